//! A simulated client process: the real [`SessionMachine`], bound to one graph node, and what the
//! world remembers about it (the ids the server gave it, whether it was killed).

use std::collections::BTreeSet;

use graphsession_core::client::{ClientConfig, ReconnectPolicy, SessionMachine};

use crate::world::config::ClusterConfig;

/// The user every known client logs in as; strangers use [`STRANGER_USER`].
pub const USER: &str = "alice";
/// A user the role table does not know.
pub const STRANGER_USER: &str = "mallory";

/// Where a client process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running (its machine may be closed).
    Running,
    /// Killed without closing: its sessions are orphans that must expire.
    Killed,
}

/// One client process.
pub struct SimClient {
    /// The graph node it talks to.
    pub node: u16,
    /// The process number: the machine's connection prefix, unique over the run.
    pub process: u32,
    /// The machine.
    pub machine: SessionMachine,
    /// Running or killed.
    pub life: Life,
    /// Every session id an `AuthenticateOk` gave this process.
    pub given: BTreeSet<i64>,
}

impl SimClient {
    /// A new process `process` for client slot `slot`.
    pub fn new(slot: u16, process: u32, config: &ClusterConfig) -> Result<SimClient, String> {
        let node = slot % config.nodes;
        let user = if config.stranger_client && slot == 0 { STRANGER_USER } else { USER };
        let idle = config.idle_timeout_ms;
        let client = ClientConfig {
            user: user.to_owned(),
            password: "secret".to_owned(),
            client_ip: crate::world::node::CLIENT_IP.to_owned(),
            node: format!("graphd-{}:9669", node + 1),
            connect_timeout_ms: 1_000,
            authenticate_timeout_ms: 2_000 + 4 * config.sync_interval_ms,
            use_space_timeout_ms: 1_000,
            execute_timeout_ms: idle / 2,
            probe_timeout_ms: 1_000,
            execute_queue_timeout_ms: idle,
            keepalive_interval_ms: idle / 3,
            zombie_check_interval_ms: 1_000,
            zombie_disconnected_max_ms: idle,
            reconnect_backoff_initial_ms: 50,
            reconnect_backoff_max_ms: 1_000,
            authenticate_refused_backoff_ms: 1_000,
            server_idle_timeout_ms: idle,
            expiry_margin_ms: 3 * config.sync_interval_ms + 1_000,
            sign_out_retry_backoff_initial_ms: 50,
            sign_out_retry_backoff_max_ms: 1_000,
            close_flush_timeout_ms: 5_000,
            sessions_per_user_ip_node_max: 20,
            reconnect_policy: if config.reconnect_replace {
                ReconnectPolicy::Replace
            } else {
                ReconnectPolicy::Resume
            },
            ..ClientConfig::default()
        };
        let machine = SessionMachine::with_connection_prefix(client, process)
            .map_err(|error| format!("client config refused: {error}"))?;
        Ok(SimClient { node, process, machine, life: Life::Running, given: BTreeSet::new() })
    }

    /// Whether the process runs and its machine is not closed.
    pub fn is_open(&self) -> bool {
        self.life == Life::Running && !self.machine.is_closed()
    }
}
