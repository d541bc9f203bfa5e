//! Why a graph node could not start, or refused a command. A refusal changes nothing.

use crate::cluster::{ConfigError as SyncConfigError, NodeError};
use crate::server::{ConfigError as ServerConfigError, ServerError, SnapshotError};

/// Why [`GraphNode::new`](crate::node::GraphNode::new) or
/// [`GraphNode::restore`](crate::node::GraphNode::restore) refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeStartError {
    /// The registry's configuration is invalid.
    #[error("server configuration refused: {0}")]
    Server(#[from] ServerConfigError),
    /// The sync's configuration is invalid.
    #[error("sync configuration refused: {0}")]
    Sync(#[from] SyncConfigError),
    /// The snapshot could not be restored.
    #[error("restore from snapshot refused: {0}")]
    Snapshot(#[from] SnapshotError),
}

/// Why a command of [`GraphNode`](crate::node::GraphNode) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The registry refused (permission, unknown session, limits), with NebulaGraph's code.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The sync's queue toward meta is full (-1005); try again after meta answered.
    #[error(transparent)]
    Sync(#[from] NodeError),
}

impl CommandError {
    /// NebulaGraph's error code.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            CommandError::Server(error) => error.code(),
            CommandError::Sync(error) => error.code(),
        }
    }
}
