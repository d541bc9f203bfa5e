//! A leak-free async NebulaGraph client on tokio.
//!
//! The rules live in `graphsession-core`'s sans-I/O client machines ([`SessionMachine`] and
//! [`SessionPool`](graphsession_core::client::SessionPool)): typed states, a ledger that a
//! session id leaves only on a proven sign-out, a bounded sign-out outbox, keepalives, zombie
//! detection, resume-or-replace after a reconnect. This crate only hosts them: one background
//! task per pool owns the machine, the sockets (`graphsession-wire`'s [`ClientCodec`]: Header +
//! Compact like nebula3-python) and one timer, and carries out what the machine asks.
//!
//! What that gives:
//! - `Drop` never leaks a server session: dropping a [`Session`] or the last handle of a
//!   [`Pool`] closes it in the background task, which signs every session out and proves it.
//! - Failover: several graphd addresses; after a failed socket the next dial goes to the next
//!   address, and the session is resumed there with the same id (NebulaGraph keeps sessions in
//!   meta), as the official clients do.
//! - Typed errors with NebulaGraph's codes ([`Error::code`]) and whether a statement certainly
//!   did not run ([`Error::certainly_not_run`]).
//! - Any non-zero session id (NebulaGraph's development branch issues negative ones),
//!   `latency_in_us` as `i64`, and a `signout` that gets no reply.
//!
//! ```no_run
//! use graphsession_client::{Client, Config};
//!
//! # async fn run() -> Result<(), graphsession_client::Error> {
//! let client = Client::connect(["127.0.0.1:9669", "127.0.0.1:9670"], Config::new("root", "nebula")).await?;
//! let session = client.session().await?;
//! let rows = session.execute("YIELD 1 AS one").await?;
//! assert_eq!(rows.columns(), vec!["one".to_owned()]);
//! session.close().await?; // or drop it: the sign-out is delivered in the background
//! # Ok(())
//! # }
//! ```
//!
//! [`SessionMachine`]: graphsession_core::client::SessionMachine
//! [`ClientCodec`]: graphsession_wire::ClientCodec

mod config;
mod connection;
mod driver;
mod error;
mod result;
mod session;

pub use config::{Config, PoolOptions};
pub use error::Error;
pub use result::ResultSet;
pub use session::{Client, Pool, PooledSession, Session};

pub use graphsession_core::client::{Metrics, PingOutcome, PoolStats};
pub use graphsession_wire::Parameters;
pub use graphsession_wire::nebula_common::types::Value;
