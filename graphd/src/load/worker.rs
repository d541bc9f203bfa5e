//! One load connection's loop: sessions of authenticate, `executes_per_session` executes and
//! a sign-out, one after another, until the run's deadline. A lost connection is replaced by
//! one to the next node and the call re-sent there with the same session id, as nebula3-python
//! does; a -1002 ends the session (counted as lost) and the next one begins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::load::Options;
use crate::load::client::{CallError, Connection};
use crate::load::report::{Rpc, Tally};

/// `E_SESSION_INVALID`: the session is not there.
const E_SESSION_INVALID: i32 = -1002;
/// How long a worker waits when every node refused its connection.
const ALL_REFUSED_PAUSE_MS: u64 = 20;

/// One worker.
pub(crate) struct Worker {
    options: Arc<Options>,
    /// The next node to connect to (an index into the targets, modulo their count).
    next: usize,
    connection: Option<Connection>,
    deadline: Instant,
    /// After this, a worker that cannot finish its call stops.
    give_up: Instant,
    tally: Tally,
}

/// Why a call did not complete.
enum Stop {
    /// The session is gone (-1002): begin another.
    SessionGone,
    /// Nothing answers any more, or the login was refused: this worker ends.
    Worker,
}

impl Worker {
    /// Worker `index`, starting on node `index % nodes`.
    pub(crate) fn new(options: Arc<Options>, index: usize, deadline: Instant) -> Worker {
        let give_up = deadline + options.reply_wait;
        Worker {
            options,
            next: index,
            connection: None,
            deadline,
            give_up,
            tally: Tally::default(),
        }
    }

    /// Runs sessions until the deadline; the last one is signed out after it.
    pub(crate) async fn run(mut self) -> Tally {
        while Instant::now() < self.deadline {
            let Ok(session) = self.authenticate().await else { break };
            match self.session(session).await {
                Ok(()) => self.tally.sessions += 1,
                Err(Stop::SessionGone) => {}
                Err(Stop::Worker) => break,
            }
        }
        self.tally
    }

    async fn session(&mut self, session: i64) -> Result<(), Stop> {
        for done in 0..self.options.executes_per_session {
            if done > 0 && Instant::now() >= self.deadline {
                break;
            }
            self.execute(session).await?;
        }
        self.sign_out(session).await
    }

    async fn authenticate(&mut self) -> Result<i64, Stop> {
        let started = Instant::now();
        let mut failed_over = false;
        loop {
            let options = Arc::clone(&self.options);
            let outcome =
                self.connection().await?.authenticate(&options.user, &options.password).await;
            match outcome {
                Ok(session) => {
                    self.record(Rpc::Authenticate, started, failed_over);
                    return Ok(session);
                }
                Err(CallError::Lost(_)) => {
                    // The session may exist with nobody knowing its id: an orphan of the
                    // crash, which its idle timeout ends.
                    self.tally.logins_cut += 1;
                    failed_over = true;
                    self.lose_connection();
                }
                Err(error) => {
                    self.tally.error(format!("authenticate: {error}"));
                    return Err(Stop::Worker);
                }
            }
        }
    }

    async fn execute(&mut self, session: i64) -> Result<(), Stop> {
        let started = Instant::now();
        let mut failed_over = false;
        loop {
            let options = Arc::clone(&self.options);
            let outcome = self.connection().await?.execute(session, &options.statement).await;
            match outcome {
                Ok(_rows) => {
                    self.record(Rpc::Execute, started, failed_over);
                    return Ok(());
                }
                Err(CallError::Lost(_)) => {
                    self.tally.failovers += 1;
                    failed_over = true;
                    self.lose_connection();
                }
                Err(CallError::Refused { code: E_SESSION_INVALID, message }) => {
                    self.tally.sessions_lost += 1;
                    self.tally.error(format!("execute in session {session}: {message}"));
                    return Err(Stop::SessionGone);
                }
                Err(error) => {
                    if matches!(error, CallError::Protocol(_)) {
                        self.lose_connection();
                    }
                    self.tally.error(format!("execute: {error}"));
                    return Ok(());
                }
            }
        }
    }

    async fn sign_out(&mut self, session: i64) -> Result<(), Stop> {
        let started = Instant::now();
        let mut failed_over = false;
        loop {
            let outcome = self.connection().await?.sign_out(session).await;
            match outcome {
                Ok(()) => {
                    self.record(Rpc::SignOut, started, failed_over);
                    return Ok(());
                }
                // Signed out or not, it is sent again elsewhere (an unknown id is ignored).
                Err(CallError::Lost(_)) => {
                    self.tally.failovers += 1;
                    failed_over = true;
                    self.lose_connection();
                }
                Err(error) => {
                    self.lose_connection();
                    self.tally.error(format!("signout: {error}"));
                    return Ok(());
                }
            }
        }
    }

    /// The open connection, or a new one to the next node that accepts.
    async fn connection(&mut self) -> Result<&mut Connection, Stop> {
        let options = Arc::clone(&self.options);
        let targets: &[SocketAddr] = &options.targets;
        let mut refused_in_a_row = 0;
        while self.connection.is_none() {
            if Instant::now() >= self.give_up || targets.is_empty() {
                self.tally.error("no node accepts connections".to_owned());
                return Err(Stop::Worker);
            }
            let addr = targets[self.next % targets.len()];
            match Connection::connect(addr, options.flavour, options.reply_wait).await {
                Ok(connection) => self.connection = Some(connection),
                Err(_refused) => {
                    self.next = self.next.wrapping_add(1);
                    refused_in_a_row += 1;
                    if refused_in_a_row % targets.len() == 0 {
                        tokio::time::sleep(Duration::from_millis(ALL_REFUSED_PAUSE_MS)).await;
                    }
                }
            }
        }
        self.connection.as_mut().ok_or(Stop::Worker)
    }

    fn record(&mut self, rpc: Rpc, started: Instant, failed_over: bool) {
        match failed_over {
            true => self.tally.record_failed_over(rpc, started.elapsed()),
            false => self.tally.record(rpc, started.elapsed()),
        }
    }

    /// The connection broke: the next call goes to the next node.
    fn lose_connection(&mut self) {
        self.connection = None;
        self.next = self.next.wrapping_add(1);
    }
}
