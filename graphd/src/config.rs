//! graphd's settings, one field per flag (`flags.rs` maps the command line onto them), with
//! NebulaGraph's defaults where NebulaGraph has the flag.

use std::net::IpAddr;
use std::path::PathBuf;

/// Everything graphd needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `--local_ip`: the address every node listens on and shows in SHOW SESSIONS.
    pub local_ip: IpAddr,
    /// `--port`: the first node's port; node `i` listens on `port + i`. 0 lets the OS choose a
    /// free port for each node (tests).
    pub port: u16,
    /// `--nodes`: graph nodes in this process, sharing one embedded meta store.
    pub nodes: u16,
    /// `--data_path`: where users, roles, spaces, sessions and the seal key are kept (on etcd the
    /// seal key is the cluster's, kept in etcd).
    pub data_path: PathBuf,
    /// `--session_idle_timeout_secs`: 1 ..= 604800, default 28800.
    pub session_idle_timeout_secs: u64,
    /// `--session_reclaim_interval_secs`: each node's sync round with meta, default 60.
    pub session_reclaim_interval_secs: u64,
    /// `--max_sessions_per_ip_per_user`: 0 or less is unlimited; default 300.
    pub max_sessions_per_ip_per_user: i64,
    /// `--max_allowed_connections`: sessions one node holds (-1010 beyond) and TCP connections
    /// it keeps open (closed at once beyond). Default `i64::MAX`, as in NebulaGraph.
    pub max_allowed_connections: u64,
    /// `--enable_authorize`: passwords and roles are checked. Default off, as in NebulaGraph.
    pub enable_authorize: bool,
    /// `--query_timeout_ms`: a query is killed this long after it started (0: never, the
    /// default; graphd's own flag, NebulaGraph has no query timeout).
    pub query_timeout_ms: u64,
    /// `--failed_login_attempts`: wrong passwords before a lock (with the next, 0 = off).
    pub failed_login_attempts: u32,
    /// `--password_lock_time_in_secs`: how long a lock lasts.
    pub password_lock_time_in_secs: u32,
    /// `--client_idle_timeout_secs`: an authenticated connection silent this long is closed.
    pub client_idle_timeout_secs: u64,
    /// `--unauthenticated_idle_timeout_secs`: a connection that has not authenticated and sends
    /// nothing for this long is closed.
    pub unauthenticated_idle_timeout_secs: u64,
    /// `--max_frame_bytes`: the largest request frame; a longer one closes its connection.
    pub max_frame_bytes: u32,
    /// `--snapshot_interval_secs`: how often sessions are written to `data_path`.
    pub snapshot_interval_secs: u64,
    /// `--verbose`: log every node event.
    pub verbose: bool,
    /// `--meta`: where the meta store lives (`meta_host.rs`).
    pub meta: MetaBackend,
    /// `--record_events`: where this process writes its part of a run's record (`record.rs`).
    pub record_events: Option<PathBuf>,
}

/// Where the meta store lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetaBackend {
    /// In this process, kept in `data_path` (the default).
    #[default]
    Embedded,
    /// In etcd, shared by every graphd pointed at the same members and prefix.
    Etcd {
        /// The members' client URLs.
        endpoints: Vec<String>,
        /// `--meta_prefix`: the cluster's key prefix.
        prefix: String,
        /// `--meta_lease_ttl_secs`, in ms: a graphd silent this long loses its slots.
        lease_ttl_ms: u64,
        /// `--meta_catalog_bytes_max`: the largest the shared catalog (users, roles, spaces,
        /// password hashes) may grow in etcd; a change past it is refused and undone.
        catalog_bytes_max: usize,
    },
}

impl Default for Config {
    fn default() -> Config {
        Config {
            local_ip: IpAddr::from([127, 0, 0, 1]),
            port: 9669,
            nodes: 1,
            data_path: PathBuf::from("data"),
            session_idle_timeout_secs: 28_800,
            session_reclaim_interval_secs: 60,
            max_sessions_per_ip_per_user: 300,
            max_allowed_connections: 9_223_372_036_854_775_807,
            enable_authorize: false,
            query_timeout_ms: 0,
            failed_login_attempts: 0,
            password_lock_time_in_secs: 0,
            client_idle_timeout_secs: 28_800,
            unauthenticated_idle_timeout_secs: 30,
            max_frame_bytes: 16 << 20,
            snapshot_interval_secs: 5,
            verbose: false,
            meta: MetaBackend::Embedded,
            record_events: None,
        }
    }
}
