//! The user's handles: a [`Client`] (addresses and settings), a [`Session`] (one session, a
//! pool of one underneath), a [`Pool`] and its [`PooledSession`] leases. Each is a thin sender
//! of commands to the driver task; dropping the last handle of a pool makes the driver close
//! it, which signs every session out before the task ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use graphsession_core::client::{
    Idempotency, LeaseId, Metrics, PingOutcome, PoolStats, SessionPool,
};
use graphsession_wire::Parameters;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{Command, Driver, Endpoints, Output, Release};
use crate::{Config, Error, PoolOptions, ResultSet};

/// Commands queued for one pool's driver, at most (senders wait when it is full).
const COMMANDS_QUEUED_MAX: usize = 256;

/// A NebulaGraph client: graphd addresses (several for failover) and the settings of every
/// session it opens. Cheap to clone; holds no socket.
#[derive(Debug, Clone)]
pub struct Client {
    addresses: Vec<SocketAddr>,
    config: Config,
}

impl Client {
    /// Resolves `addresses` ("host:port") and checks that at least one accepts a connection
    /// within `connect_timeout_ms`; sessions dial the first reachable one and fail over to the
    /// next in order when a socket fails.
    pub async fn connect<A: AsRef<str>>(
        addresses: impl IntoIterator<Item = A>,
        config: Config,
    ) -> Result<Client, Error> {
        config.validate()?;
        let mut resolved = Vec::new();
        for address in addresses {
            let address = address.as_ref();
            let mut found = tokio::net::lookup_host(address).await.map_err(|error| {
                Error::Resolve { address: address.to_owned(), reason: error.to_string() }
            })?;
            let first = found.next().ok_or_else(|| Error::Resolve {
                address: address.to_owned(),
                reason: "no address".to_owned(),
            })?;
            resolved.push(first);
        }
        if resolved.is_empty() {
            return Err(Error::NoAddress);
        }
        let timeout = Duration::from_millis(config.session.connect_timeout_ms);
        let mut reachable = None;
        for (index, address) in resolved.iter().enumerate() {
            let dialled = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address));
            if matches!(dialled.await, Ok(Ok(_))) {
                reachable = Some(index);
                break;
            }
        }
        let Some(first) = reachable else {
            let addresses: Vec<String> = resolved.iter().map(ToString::to_string).collect();
            return Err(Error::Unreachable { addresses: addresses.join(", ") });
        };
        resolved.rotate_left(first);
        Ok(Client { addresses: resolved, config })
    }

    /// The addresses, the one dialled first at the front.
    #[must_use]
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens one session (authenticated, its space selected) and waits until it is ready.
    pub async fn session(&self) -> Result<Session, Error> {
        let options = PoolOptions { sessions_min: 1, sessions_max: 1, ..PoolOptions::default() };
        let pool = self.pool(options).await?;
        let lease = pool.acquire().await?;
        Ok(Session { lease })
    }

    /// Starts a pool; it opens `sessions_min` sessions in the background.
    pub async fn pool(&self, options: PoolOptions) -> Result<Pool, Error> {
        let mut session = self.config.session.clone();
        session.node = self.addresses.first().map(ToString::to_string).unwrap_or_default();
        let config = options.pool_config(session);
        let pool = SessionPool::new(config)?;
        let endpoints = Endpoints {
            addresses: self.addresses.clone(),
            codec: self.config.codec,
            connect_timeout: Duration::from_millis(self.config.session.connect_timeout_ms),
        };
        let (commands, commands_rx) = mpsc::channel(COMMANDS_QUEUED_MAX);
        // Releases come only from leases, at most `sessions_max` at once: never full.
        let releases_max = usize::try_from(options.sessions_max).unwrap_or(usize::MAX).max(1);
        let (releases, releases_rx) = mpsc::channel(releases_max);
        tokio::spawn(Driver::run(pool, endpoints, commands_rx, releases_rx));
        Ok(Pool { inner: Arc::new(Senders { commands, releases }) })
    }
}

/// The driver's inputs.
#[derive(Debug)]
struct Senders {
    commands: mpsc::Sender<Command>,
    releases: mpsc::Sender<Release>,
}

impl Senders {
    /// Sends a command and waits for its answer.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }
}

/// A session pool. Cloning shares it; when the last clone and the last [`PooledSession`] are
/// dropped, every session is signed out in the background.
#[derive(Debug, Clone)]
pub struct Pool {
    inner: Arc<Senders>,
}

impl Pool {
    /// A session, waiting (first come, first served) up to `acquire_timeout_ms`.
    pub async fn get(&self) -> Result<PooledSession, Error> {
        self.acquire().await.map(|lease| PooledSession { lease })
    }

    async fn acquire(&self) -> Result<Lease, Error> {
        let lease = self.inner.ask(|reply| Command::Acquire { reply }).await??;
        Ok(Lease { senders: Arc::clone(&self.inner), lease, released: false })
    }

    /// Runs `statement` on a pooled session (not re-sent after a lost reply).
    pub async fn execute(&self, statement: impl Into<String>) -> Result<ResultSet, Error> {
        self.get().await?.execute(statement).await
    }

    /// Runs `statement` and returns NebulaGraph's JSON document (`executeJson`).
    pub async fn execute_json(
        &self,
        statement: impl Into<String>,
    ) -> Result<serde_json::Value, Error> {
        self.get().await?.execute_json(statement).await
    }

    /// The pool's counts (members, free, leased, waiters, leaked) and summed metrics.
    pub async fn stats(&self) -> Result<(PoolStats, Metrics), Error> {
        self.inner.ask(|reply| Command::Stats { reply }).await
    }

    /// Closes the pool: waiters are refused, sessions signed out (proven by a ping on the same
    /// socket) within `close_flush_timeout_ms`. Returns the final metrics.
    pub async fn close(&self) -> Result<Metrics, Error> {
        self.inner.ask(|reply| Command::Close { reply }).await
    }
}

/// A lease on one pooled session; statements on it run in order on one NebulaGraph session.
#[derive(Debug)]
struct Lease {
    senders: Arc<Senders>,
    lease: LeaseId,
    released: bool,
}

impl Lease {
    async fn run(
        &self,
        statement: String,
        parameters: Option<Parameters>,
        json: bool,
        idempotency: Idempotency,
    ) -> Result<Output, Error> {
        let lease = self.lease;
        let command =
            |reply| Command::Execute { lease, statement, parameters, json, idempotency, reply };
        self.senders.ask(command).await?
    }

    async fn rows(
        &self,
        statement: String,
        parameters: Option<Parameters>,
        idempotency: Idempotency,
    ) -> Result<ResultSet, Error> {
        match self.run(statement, parameters, false, idempotency).await? {
            Output::Rows(rows) => Ok(rows),
            _ => Err(Error::Protocol { reason: "rows expected" }),
        }
    }

    async fn json(
        &self,
        statement: String,
        parameters: Option<Parameters>,
    ) -> Result<serde_json::Value, Error> {
        match self.run(statement, parameters, true, Idempotency::NotIdempotent).await? {
            Output::Json(json) => Ok(json),
            _ => Err(Error::Protocol { reason: "JSON expected" }),
        }
    }

    async fn use_space(&self, space: String) -> Result<(), Error> {
        let lease = self.lease;
        self.senders.ask(|reply| Command::UseSpace { lease, space, reply }).await?.map(drop)
    }

    async fn ping(&self) -> Result<PingOutcome, Error> {
        let lease = self.lease;
        match self.senders.ask(|reply| Command::Ping { lease, reply }).await?? {
            Output::Ping(outcome) => Ok(outcome),
            _ => Err(Error::Protocol { reason: "a ping's answer expected" }),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            // Never full (see `Client::pool`); if the driver is gone, so is the pool.
            let _sent =
                self.senders.releases.try_send(Release { lease: self.lease, discard: false });
        }
    }
}

macro_rules! statements {
    () => {
        /// Runs `statement`. Not re-sent after a lost reply (its outcome is then reported as
        /// unknown); after -1002 it runs on a new session (it certainly did not run).
        pub async fn execute(&self, statement: impl Into<String>) -> Result<ResultSet, Error> {
            self.lease.rows(statement.into(), None, Idempotency::NotIdempotent).await
        }

        /// Runs a statement that is safe to run twice: re-sent after a lost reply, on the same
        /// session through another graphd if the socket failed.
        pub async fn execute_idempotent(
            &self,
            statement: impl Into<String>,
        ) -> Result<ResultSet, Error> {
            self.lease.rows(statement.into(), None, Idempotency::Idempotent).await
        }

        /// Runs `statement` with `parameters` (`executeWithParameter`; `$name` in the text).
        pub async fn execute_with(
            &self,
            statement: impl Into<String>,
            parameters: Parameters,
        ) -> Result<ResultSet, Error> {
            self.lease.rows(statement.into(), Some(parameters), Idempotency::NotIdempotent).await
        }

        /// Runs `statement` and returns NebulaGraph's JSON document (`executeJson`).
        pub async fn execute_json(
            &self,
            statement: impl Into<String>,
        ) -> Result<serde_json::Value, Error> {
            self.lease.json(statement.into(), None).await
        }

        /// `executeJsonWithParameter`.
        pub async fn execute_json_with(
            &self,
            statement: impl Into<String>,
            parameters: Parameters,
        ) -> Result<serde_json::Value, Error> {
            self.lease.json(statement.into(), Some(parameters)).await
        }

        /// USE `space`; resumes of this session select it again.
        pub async fn use_space(&self, space: impl Into<String>) -> Result<(), Error> {
            self.lease.use_space(space.into()).await
        }

        /// Pings with the session's own id: alive, or gone (then replaced).
        pub async fn ping(&self) -> Result<PingOutcome, Error> {
            self.lease.ping().await
        }
    };
}

/// One NebulaGraph session, with keepalive, zombie detection, failover and a sign-out that is
/// never lost: [`close`](Session::close) waits for it; dropping the session hands it to the
/// background task, which delivers it.
#[derive(Debug)]
pub struct Session {
    lease: Lease,
}

impl Session {
    statements!();

    /// The pool underneath's counts and metrics.
    pub async fn metrics(&self) -> Result<Metrics, Error> {
        Ok(self.lease.senders.ask(|reply| Command::Stats { reply }).await?.1)
    }

    /// Signs the session out (proven by a ping on the same socket) and waits for it.
    pub async fn close(mut self) -> Result<Metrics, Error> {
        self.lease.released = true;
        self.lease.senders.ask(|reply| Command::Close { reply }).await
    }
}

/// A session leased from a [`Pool`]; dropping it gives it back.
#[derive(Debug)]
pub struct PooledSession {
    lease: Lease,
}

impl PooledSession {
    statements!();

    /// Gives the session back to be signed out instead of reused (its state is unknown).
    pub fn discard(mut self) {
        self.lease.released = true;
        let release = Release { lease: self.lease.lease, discard: true };
        let _sent = self.lease.senders.releases.try_send(release);
    }
}
