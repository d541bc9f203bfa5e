//! How a graph node is set up: the registry's and the sync's configurations, and the node's own
//! limits.

use std::collections::BTreeMap;

use crate::cluster::{NodeConfig, NodeId};
use crate::server::Config as ServerConfig;

/// NebulaGraph 3.x's default list of client versions a graph node accepts.
pub const CLIENT_VERSIONS_DEFAULT: [&str; 10] =
    ["3.0.0", "3.1.0", "3.2.0", "3.2.1", "3.3.0", "3.4.0", "3.5.0", "3.6.0", "3.7.0", "3.8.0"];

/// The configuration of one graph node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's id at meta (its id-gen slot).
    pub node_id: NodeId,
    /// Grows with every start of the node's process (meta refuses an older one).
    pub incarnation: u64,
    /// The session registry.
    pub server: ServerConfig,
    /// The cluster sync.
    pub sync: NodeConfig,
    /// Client versions `verifyClientVersion` accepts; empty accepts every version
    /// (NebulaGraph's `enable_client_white_list=false`).
    pub client_versions: Vec<String>,
    /// Other nodes' `host:port`, for SHOW SESSIONS rows of sessions they own.
    pub peer_addrs: BTreeMap<NodeId, String>,
    /// Requests a connection may have waiting behind its sign-out or a pick-up.
    pub waiting_requests_per_connection_max: u32,
    /// Connections waiting on meta at once (registrations, pick-ups, sign-outs, SHOW SESSIONS,
    /// kills; a connection with several statements waiting counts each); past it a request is
    /// refused with -1005 instead of queued.
    pub waiting_connections_max: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            node_id: NodeId(1),
            incarnation: 1,
            server: ServerConfig::default(),
            sync: NodeConfig::default(),
            client_versions: CLIENT_VERSIONS_DEFAULT.iter().map(|v| (*v).to_owned()).collect(),
            peer_addrs: BTreeMap::new(),
            waiting_requests_per_connection_max: 16,
            waiting_connections_max: 65_536,
        }
    }
}
