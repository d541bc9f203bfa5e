//! The registry's settings: NebulaGraph's graph-node flags under our naming, plus the bounds
//! NebulaGraph does not have. `Config::default()` is NebulaGraph's default behaviour.

use graphsession_permission::Policy;
use graphsession_query_plan::Config as QueryConfig;

use crate::server::error::ConfigError;

/// Longest client ip a session may carry, in bytes: an IPv6 address with a zone fits.
pub const CLIENT_IP_BYTES_MAX: u32 = 64;
/// Longest `graph_addr` ("host:port" of this node), in bytes.
pub const GRAPH_ADDR_BYTES_MAX: u32 = 256;
/// Most shards a registry may have.
pub const SHARD_COUNT_MAX: u32 = 4_096;
/// Latest time the registry holds, Unix ms: `2^44 - 1`, in the year 2527. A `now` beyond it is
/// taken as this (the registry's clock stops there), so activity fits beside a tag in one atomic
/// word of the slot table and nothing ever expires early.
pub const NOW_UNIX_MS_MAX: u64 = (1 << 44) - 1;
/// Shortest idle timeout NebulaGraph accepts (`session_idle_timeout_secs` >= 1).
pub const IDLE_TIMEOUT_MS_MIN: u64 = 1_000;
/// Longest idle timeout NebulaGraph accepts (`session_idle_timeout_secs` <= 604800, a week).
pub const IDLE_TIMEOUT_MS_MAX: u64 = 604_800_000;
/// Longest query timeout, node default or session override, in milliseconds: a week, the
/// longest idle timeout. NebulaGraph 3.x has no query timeout at all (docs/fixes.md, "Query
/// timeouts").
pub const QUERY_TIMEOUT_MS_MAX: u64 = 604_800_000;
/// The session variable that overrides [`Config::query_timeout_ms`] for one session: a decimal
/// count of milliseconds, `0` for no timeout, at most [`QUERY_TIMEOUT_MS_MAX`].
pub const QUERY_TIMEOUT_VARIABLE: &str = "query_timeout_ms";

/// Settings of one node's [`SessionManager`](crate::server::SessionManager).
///
/// The defaults are NebulaGraph 3.x's: an 8-hour idle timeout, 300 sessions per (user, client ip),
/// no node-wide cap (`max_allowed_connections` = `i64::MAX`), login throttling off, authorization
/// off. The bounds NebulaGraph lacks (events, history, variables) have generous defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// `session_idle_timeout_secs` in milliseconds: a session with no activity and no running
    /// query for this long is reclaimed. Default 28,800,000 (8 hours); valid 1 s ..= 1 week.
    pub idle_timeout_ms: u64,
    /// `max_sessions_per_ip_per_user`: sessions one user may hold from one client ip on this
    /// node. Zero or negative means unlimited, as in NebulaGraph. Default 300.
    pub sessions_per_user_ip_max: i64,
    /// `max_allowed_connections`: sessions this node holds at once. Default `i64::MAX` as in
    /// NebulaGraph, i.e. bounded by memory only; set it for production.
    pub sessions_max: u64,
    /// `failed_login_attempts`: consecutive wrong passwords before a user is locked on this
    /// node. Throttling is on only when this and `password_lock_time_secs` are both > 0.
    pub failed_login_attempts: u32,
    /// `password_lock_time_in_secs`: how long a locked user stays locked, in seconds.
    pub password_lock_time_secs: u32,
    /// Users with failed attempts tracked at once (a bound NebulaGraph lacks). Default 16,384,
    /// the role table's user limit.
    pub throttled_users_max: u32,
    /// NebulaGraph's `enable_authorize`. Default off.
    pub policy: Policy,
    /// This node's "host:port", shown in SHOW SESSIONS' GraphAddr and SHOW QUERIES' Host.
    pub graph_addr: String,
    /// Shards of the registry; a power of two. Default 64: enough that two executor threads
    /// rarely meet on one shard lock, few enough that a full SHOW SESSIONS stays cheap.
    pub shard_count: u32,
    /// Events held for [`poll_event`](crate::server::SessionManager::poll_event) before new ones
    /// are dropped (and counted in `events_dropped`). Default 65,536.
    pub events_max: u32,
    /// Changes kept in each session's own history for SHOW SESSION; the oldest go first.
    /// Default 16.
    pub session_history_max: u32,
    /// Session variables one session may hold. Default 64.
    pub variables_per_session_max: u32,
    /// Longest variable, name plus value, in bytes. Default 4,096.
    pub variable_bytes_max: u32,
    /// Every query of this node is killed this long after it started, unless its session set
    /// its own [`QUERY_TIMEOUT_VARIABLE`]; the client gets -1005 with
    /// [`QUERY_TIMED_OUT`](crate::server::QUERY_TIMED_OUT). `0`: no timeout, NebulaGraph's
    /// behaviour and the default. At most [`QUERY_TIMEOUT_MS_MAX`].
    #[serde(default)]
    pub query_timeout_ms: u64,
    /// Limits of the query registry of each shard (`sessions_max` there is ignored: the
    /// registry's own `sessions_max` above bounds sessions).
    pub queries: QueryConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            idle_timeout_ms: 28_800_000,
            sessions_per_user_ip_max: 300,
            sessions_max: 9_223_372_036_854_775_807,
            failed_login_attempts: 0,
            password_lock_time_secs: 0,
            throttled_users_max: 16_384,
            policy: Policy::OPEN,
            graph_addr: "127.0.0.1:9669".to_owned(),
            shard_count: 64,
            events_max: 65_536,
            session_history_max: 16,
            variables_per_session_max: 64,
            variable_bytes_max: 4_096,
            query_timeout_ms: 0,
            queries: QueryConfig::default(),
        }
    }
}

impl Config {
    /// Refuses a configuration the registry cannot run with; says which field and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field: &'static str, reason: &'static str| Err(ConfigError { field, reason });
        if !(IDLE_TIMEOUT_MS_MIN..=IDLE_TIMEOUT_MS_MAX).contains(&self.idle_timeout_ms) {
            return fail("idle_timeout_ms", "must be 1 s ..= 604800 s, as in NebulaGraph");
        }
        if self.sessions_max == 0 {
            return fail("sessions_max", "must be at least 1");
        }
        if !self.shard_count.is_power_of_two() || self.shard_count > SHARD_COUNT_MAX {
            return fail("shard_count", "must be a power of two, at most 4096");
        }
        if self.graph_addr.len() > GRAPH_ADDR_BYTES_MAX as usize {
            return fail("graph_addr", "longer than GRAPH_ADDR_BYTES_MAX");
        }
        if self.query_timeout_ms > QUERY_TIMEOUT_MS_MAX {
            return fail("query_timeout_ms", "must be at most 604800000 ms (a week); 0 for none");
        }
        if self.events_max == 0 {
            return fail("events_max", "must be at least 1, or events would be lost silently");
        }
        Ok(())
    }

    /// The per-(user, ip) limit, `None` for unlimited.
    pub(crate) fn user_ip_limit(&self) -> Option<u32> {
        if self.sessions_per_user_ip_max <= 0 {
            return None;
        }
        Some(u32::try_from(self.sessions_per_user_ip_max).unwrap_or(u32::MAX))
    }

    /// The query-registry limits of one shard.
    pub(crate) fn shard_query_config(&self) -> QueryConfig {
        QueryConfig { sessions_max: u32::MAX, ..self.queries }
    }
}
