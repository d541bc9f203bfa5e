//! The registry's limits. NebulaGraph has none: a client can register queries (and their text)
//! until the node runs out of memory. Every map here has a named maximum, checked before anything
//! changes.

/// Longest user name a session may carry, in bytes (NebulaGraph's own limit is far below this).
pub const USER_NAME_BYTES_MAX: u32 = 256;
/// Longest host string a session may carry (a "host:port" address), in bytes.
pub const HOST_BYTES_MAX: u32 = 256;

/// Limits of one node's [`QueryRegistry`](crate::QueryRegistry). `Default` is a production setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Sessions the registry tracks at once. Default 1,048,576: above any realistic connection
    /// count, low enough to bound memory (about 100 bytes per session).
    pub sessions_max: u32,
    /// Queries running at once in one session. Default 1,024: a session runs one statement at a
    /// time, but pipelining clients and asynchronous drivers keep several in flight.
    pub queries_per_session_max: u32,
    /// Queries running at once on this node. Default 65,536: far beyond what a node can execute,
    /// and a bound on the registry's memory together with `statement_bytes_max`.
    pub queries_per_node_max: u32,
    /// Longest statement text kept for SHOW QUERIES, in bytes. Default 4 MiB, which admits large
    /// batched INSERT statements.
    pub statement_bytes_max: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sessions_max: 1 << 20,
            queries_per_session_max: 1_024,
            queries_per_node_max: 65_536,
            statement_bytes_max: 4 << 20,
        }
    }
}
