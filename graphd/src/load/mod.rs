//! graphd's load generator (the `graphd-load` binary, `cargo xtask load`): `connections`
//! concurrent client connections on loopback, each running sessions of `authenticate`,
//! `executes_per_session` executes and `signout` until the run's duration is over, framed as
//! nebula3-python or the Node.js client frames them (the wire tests' encoder, included from
//! `wire/tests/support/`). It reports calls per second and the p50 and p99 latency of each RPC
//! as the client sees it (HDR histograms, microseconds): from the call's first byte written to
//! its reply read, a failover included. A `signout` is never answered, so its latency is that
//! of the `signout` and a `verifyClientVersion` written together, to the verify's reply: the
//! node holds a connection that signed out until meta confirmed the removal, so that reply is
//! when the sign-out is durable.
//!
//! A connection that breaks (a crashed node) is replaced by one to the next node and the call
//! re-sent there with the same session id, as nebula3-python re-sends it; the report counts
//! those failovers, logins whose reply was lost (each may leave a session only its idle
//! timeout ends), and executes answered -1002 (sessions lost: none may be).
//!
//! Every run is bounded: each worker starts no session after the duration, signs out the one
//! it holds, and gives up a call that gets no reply within `reply_wait`.

pub mod client;
pub mod held;
pub mod report;
mod worker;

#[path = "../../../wire/tests/support/mod.rs"]
mod wire_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

pub use client::{CallError, Connection, Flavour};
pub use held::Held;
pub use report::{Report, Row, Rpc, Tally, median_ratio_table, ratio_table};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The nodes, node 1 first; worker `i` starts on node `i % len`.
    pub targets: Vec<SocketAddr>,
    /// Concurrent connections (one worker each).
    pub connections: usize,
    /// How long workers start sessions.
    pub duration: Duration,
    /// Executes in each session (at least 1).
    pub executes_per_session: u32,
    /// What each execute runs.
    pub statement: String,
    /// Whose framing.
    pub flavour: Flavour,
    /// The user that logs in.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The longest a call waits for its reply (and the longest a worker runs past the
    /// duration).
    pub reply_wait: Duration,
}

impl Options {
    /// `connections` python connections to `targets` for `duration`: one `YIELD 1` per
    /// session, as root.
    pub fn new(targets: Vec<SocketAddr>, connections: usize, duration: Duration) -> Options {
        Options {
            targets,
            connections,
            duration,
            executes_per_session: 1,
            statement: "YIELD 1".to_owned(),
            flavour: Flavour::Python,
            user: "root".to_owned(),
            password: "nebula".to_owned(),
            reply_wait: Duration::from_secs(10),
        }
    }
}

/// Runs the load on the current tokio runtime and reports it under `title`.
pub async fn run(options: Options, title: String) -> Report {
    let options = Arc::new(options);
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut workers = JoinSet::new();
    for index in 0..options.connections {
        workers.spawn(worker::Worker::new(Arc::clone(&options), index, deadline).run());
    }
    let mut tally = Tally::default();
    while let Some(ended) = workers.join_next().await {
        match ended {
            Ok(worker) => tally.merge(&worker),
            Err(error) => tally.error(format!("a worker failed: {error}")),
        }
    }
    Report { title, elapsed: started.elapsed(), tally }
}
