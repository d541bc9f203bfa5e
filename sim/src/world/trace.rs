//! The run as a list of lines: what `--trace FILE` writes (JSON Lines) and what a failure report
//! shows of its last steps.

use serde::Serialize;

use crate::world::network::Message;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    /// The run's seed.
    pub seed: u64,
    /// The step (liveness steps count on from the safety phase's).
    pub step: u64,
    /// True time, Unix milliseconds.
    pub now_ms: u64,
    /// What happened: a step kind or `deliver`.
    pub kind: &'static str,
    /// The particulars.
    pub detail: String,
}

/// A short description of a message for the trace.
pub(super) fn describe(message: &Message) -> String {
    match message {
        Message::ToNode { node, connection, request } => {
            format!("to node {node} on {:#x}: {request:?}", connection.0)
        }
        Message::ClosedAtNode { node, connection } => {
            format!("node {node} sees {:#x} closed", connection.0)
        }
        Message::ToClient { connection, event } => {
            format!("to client on {:#x}: {event:?}", connection.0)
        }
        Message::ToMeta { node, .. } => format!("node {node} to meta"),
        Message::FromMeta { node, .. } => format!("meta to node {node}"),
    }
}
