//! What the user's handles ask the driver, and how the driver hands each to the pool.

use graphsession_core::client::{Acquire, Idempotency, LeaseId, Metrics, PoolStats};
use graphsession_wire::Parameters;
use tokio::sync::oneshot;

use super::{Driver, Output, Pending};
use crate::Error;

/// A request from a user handle.
pub(crate) enum Command {
    /// A session from the pool.
    Acquire { reply: oneshot::Sender<Result<LeaseId, Error>> },
    /// A statement on a leased session.
    Execute {
        lease: LeaseId,
        statement: String,
        parameters: Option<Parameters>,
        json: bool,
        idempotency: Idempotency,
        reply: oneshot::Sender<Result<Output, Error>>,
    },
    /// USE on a leased session (remembered for its resumes).
    UseSpace { lease: LeaseId, space: String, reply: oneshot::Sender<Result<Output, Error>> },
    /// A ping with the leased session's id.
    Ping { lease: LeaseId, reply: oneshot::Sender<Result<Output, Error>> },
    /// Close the pool (sign every session out) and give its final metrics when it is done.
    Close { reply: oneshot::Sender<Metrics> },
    /// The pool's counts and metrics.
    Stats { reply: oneshot::Sender<(PoolStats, Metrics)> },
}

/// A leased session given back (from a handle's `Drop` too).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release {
    pub(crate) lease: LeaseId,
    /// Sign it out instead of reusing it.
    pub(crate) discard: bool,
}

impl Driver {
    pub(super) fn command(&mut self, command: Command) {
        let now = self.now_ms();
        match command {
            Command::Acquire { reply } => match self.pool.acquire(now) {
                Ok(Acquire::Granted(handle)) => {
                    let lease = handle.lease();
                    self.handles.insert(lease, handle);
                    let _gone = reply.send(Ok(lease));
                }
                Ok(Acquire::Queued(waiter)) => {
                    self.waiters.insert(waiter, reply);
                }
                Err(error) => {
                    let _gone = reply.send(Err(error.into()));
                }
            },
            Command::Execute { lease, statement, parameters, json, idempotency, reply } => {
                let pending = Pending { reply, parameters, json };
                self.submit(lease, pending, |pool, now, handle| {
                    pool.execute(now, handle, statement, idempotency)
                });
            }
            Command::UseSpace { lease, space, reply } => {
                let pending = Pending { reply, parameters: None, json: false };
                self.submit(lease, pending, |pool, now, handle| pool.use_space(now, handle, space));
            }
            Command::Ping { lease, reply } => {
                let pending = Pending { reply, parameters: None, json: false };
                self.submit(lease, pending, |pool, now, handle| pool.ping(now, handle));
            }
            Command::Close { reply } => {
                self.pool.close(now);
                self.close_waiters.push(reply);
            }
            Command::Stats { reply } => {
                let _gone = reply.send((self.pool.stats(), self.pool.metrics()));
            }
        }
    }

    /// Hands a request on `lease` to the pool; its result comes as a member event.
    fn submit(
        &mut self,
        lease: LeaseId,
        pending: Pending,
        call: impl FnOnce(
            &mut graphsession_core::client::SessionPool,
            u64,
            &graphsession_core::client::Handle,
        ) -> Result<
            graphsession_core::client::RequestId,
            graphsession_core::client::PoolError,
        >,
    ) {
        let now = self.now_ms();
        let Some(handle) = self.handles.get(&lease) else {
            let stale = graphsession_core::client::PoolError::StaleHandle {
                member: lease.member.0,
                generation: lease.generation,
            };
            let _gone = pending.reply.send(Err(stale.into()));
            return;
        };
        match call(&mut self.pool, now, handle) {
            Ok(request) => {
                self.requests.insert((lease.member, request), pending);
            }
            Err(error) => {
                let _gone = pending.reply.send(Err(error.into()));
            }
        }
    }

    pub(super) fn release(&mut self, release: Release) {
        let Some(handle) = self.handles.remove(&release.lease) else { return };
        let now = self.now_ms();
        let how = if release.discard {
            graphsession_core::client::Release::Discard
        } else {
            graphsession_core::client::Release::Reuse
        };
        self.pool.release(now, handle, how);
    }
}
