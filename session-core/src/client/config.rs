//! Configuration of a session machine and of a pool, with production defaults. Every duration is in
//! milliseconds of the host's monotonic clock and every limit is a named maximum.

use crate::client::error::ConfigError;
use crate::client::wire::is_valid_space_name;

/// The server's per-(user, ip) session limit (`max_sessions_per_ip_per_user`); the local budget stays
/// below it.
pub const SERVER_SESSIONS_PER_USER_IP_MAX: u32 = 300;

/// What to do with the held session after the transport was lost and came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconnectPolicy {
    /// Keep the same session id: check it on the new socket (USE, or a keepalive), replace it only if
    /// the server says it is gone. No new session, no orphan.
    Resume,
    /// Queue the old id for sign-out and authenticate a new session.
    Replace,
}

/// What to do when the server says the held session is invalid (-1002 on execute, ping, keepalive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidSessionPolicy {
    /// Authenticate a new session and re-run the statement that got -1002 (it did not run).
    Replace,
    /// Report the loss and close the machine.
    Close,
}

/// Settings of one [`SessionMachine`](crate::client::SessionMachine).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The user to authenticate as. Part of the budget's key.
    pub user: String,
    /// The password; redacted from `Debug` output.
    pub password: String,
    /// The client's address as the server sees it. Only names the budget's key.
    pub client_ip: String,
    /// The graph node ("host:port") this machine talks to. Only names the budget's key.
    pub node: String,
    /// The space to USE after authenticate and after every resume; `None` for none.
    pub space: Option<String>,
    /// Dial deadline. Default 3,000.
    pub connect_timeout_ms: u64,
    /// Authenticate reply deadline. Default 5,000.
    pub authenticate_timeout_ms: u64,
    /// USE reply deadline. Default 5,000.
    pub use_space_timeout_ms: u64,
    /// Execute reply deadline; below `server_idle_timeout_ms`. Default 60,000.
    pub execute_timeout_ms: u64,
    /// Deadline of pings, keepalives and sign-out delivery proofs. Default 3,000.
    pub probe_timeout_ms: u64,
    /// How long a request may wait in the queue before it is sent. Default 30,000.
    pub execute_queue_timeout_ms: u64,
    /// How many times a statement is sent at most (re-runs after -1002 or, if idempotent, after a lost
    /// reply). Default 3.
    pub execute_attempts_max: u32,
    /// Requests queued plus the one in flight, at most. Default 64.
    pub execute_queue_max: u32,
    /// An idle session is probed with its real id this long after its last use; below half of
    /// `server_idle_timeout_ms`. Default 600,000 (10 minutes).
    pub keepalive_interval_ms: u64,
    /// Period of the zombie check (the seed's 30 s monitor, as a timer). Default 30,000.
    pub zombie_check_interval_ms: u64,
    /// A session held with no live transport for this long is a zombie: it is queued for sign-out.
    /// Default 60,000.
    pub zombie_disconnected_max_ms: u64,
    /// First reconnect delay; doubles per consecutive failure. Default 100.
    pub reconnect_backoff_initial_ms: u64,
    /// Largest reconnect delay. Default 30,000.
    pub reconnect_backoff_max_ms: u64,
    /// Smallest delay after authenticate was refused (-1002, -1010): no retry storm. Default 5,000.
    pub authenticate_refused_backoff_ms: u64,
    /// Consecutive failures (lost transport, refused authenticate, -1002 while establishing) before a
    /// session is ready, after which the machine gives up and closes. Default 30.
    pub failures_max: u32,
    /// The server's `session_idle_timeout_secs` in milliseconds. Default 28,800,000 (8 hours).
    pub server_idle_timeout_ms: u64,
    /// Added to the idle timeout before a session counts as certainly expired: the server reclaims
    /// every `session_reclaim_interval_secs` (60 s), and clocks drift. Default 120,000.
    pub expiry_margin_ms: u64,
    /// Sessions awaiting sign-out, at most; beyond it a session waits in the ledger, reported.
    /// Default 64.
    pub sign_out_outbox_max: u32,
    /// First sign-out retry delay; doubles per failed delivery. Default 200.
    pub sign_out_retry_backoff_initial_ms: u64,
    /// Largest sign-out retry delay. Default 60,000.
    pub sign_out_retry_backoff_max_ms: u64,
    /// How long close may take to deliver sign-outs; what is left is reported abandoned.
    /// Default 5,000.
    pub close_flush_timeout_ms: u64,
    /// Local budget per (user, client ip, node): held sessions, pending sign-outs and authenticates
    /// with unknown outcome. Below the server's 300. Default 100.
    pub sessions_per_user_ip_node_max: u32,
    /// Resume or replace the session after a reconnect. Default [`ReconnectPolicy::Resume`].
    pub reconnect_policy: ReconnectPolicy,
    /// Replace or close after -1002. Default [`InvalidSessionPolicy::Replace`].
    pub invalid_session_policy: InvalidSessionPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user: "root".to_owned(),
            password: String::new(),
            client_ip: "127.0.0.1".to_owned(),
            node: "127.0.0.1:9669".to_owned(),
            space: None,
            connect_timeout_ms: 3_000,
            authenticate_timeout_ms: 5_000,
            use_space_timeout_ms: 5_000,
            execute_timeout_ms: 60_000,
            probe_timeout_ms: 3_000,
            execute_queue_timeout_ms: 30_000,
            execute_attempts_max: 3,
            execute_queue_max: 64,
            keepalive_interval_ms: 600_000,
            zombie_check_interval_ms: 30_000,
            zombie_disconnected_max_ms: 60_000,
            reconnect_backoff_initial_ms: 100,
            reconnect_backoff_max_ms: 30_000,
            authenticate_refused_backoff_ms: 5_000,
            failures_max: 30,
            server_idle_timeout_ms: 28_800_000,
            expiry_margin_ms: 120_000,
            sign_out_outbox_max: 64,
            sign_out_retry_backoff_initial_ms: 200,
            sign_out_retry_backoff_max_ms: 60_000,
            close_flush_timeout_ms: 5_000,
            sessions_per_user_ip_node_max: 100,
            reconnect_policy: ReconnectPolicy::Resume,
            invalid_session_policy: InvalidSessionPolicy::Replace,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    // Hand-written so the password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("client_ip", &self.client_ip)
            .field("node", &self.node)
            .field("space", &self.space)
            .field("server_idle_timeout_ms", &self.server_idle_timeout_ms)
            .field("sessions_per_user_ip_node_max", &self.sessions_per_user_ip_node_max)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Checks every range; machines refuse an invalid configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.user.is_empty() {
            return Err(ConfigError::EmptyUser);
        }
        if let Some(space) = &self.space {
            if !is_valid_space_name(space) {
                return Err(ConfigError::InvalidSpaceName { space: space.clone() });
            }
        }
        self.validate_positive()?;
        if self.keepalive_interval_ms >= self.server_idle_timeout_ms / 2 {
            return Err(ConfigError::KeepaliveTooSlow {
                keepalive_interval_ms: self.keepalive_interval_ms,
                server_idle_timeout_ms: self.server_idle_timeout_ms,
            });
        }
        if self.execute_timeout_ms >= self.server_idle_timeout_ms {
            return Err(ConfigError::ExecuteTimeoutTooLong {
                execute_timeout_ms: self.execute_timeout_ms,
            });
        }
        let budget = self.sessions_per_user_ip_node_max;
        if !(2..SERVER_SESSIONS_PER_USER_IP_MAX).contains(&budget) {
            return Err(ConfigError::BudgetOutOfRange {
                max: budget,
                server_max: SERVER_SESSIONS_PER_USER_IP_MAX,
            });
        }
        check_backoff(
            "reconnect_backoff",
            self.reconnect_backoff_initial_ms,
            self.reconnect_backoff_max_ms,
        )?;
        check_backoff(
            "sign_out_retry_backoff",
            self.sign_out_retry_backoff_initial_ms,
            self.sign_out_retry_backoff_max_ms,
        )
    }

    fn validate_positive(&self) -> Result<(), ConfigError> {
        let fields: [(&'static str, u64); 21] = [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("authenticate_timeout_ms", self.authenticate_timeout_ms),
            ("use_space_timeout_ms", self.use_space_timeout_ms),
            ("execute_timeout_ms", self.execute_timeout_ms),
            ("probe_timeout_ms", self.probe_timeout_ms),
            ("execute_queue_timeout_ms", self.execute_queue_timeout_ms),
            ("execute_attempts_max", u64::from(self.execute_attempts_max)),
            ("execute_queue_max", u64::from(self.execute_queue_max)),
            ("keepalive_interval_ms", self.keepalive_interval_ms),
            ("zombie_check_interval_ms", self.zombie_check_interval_ms),
            ("zombie_disconnected_max_ms", self.zombie_disconnected_max_ms),
            ("reconnect_backoff_initial_ms", self.reconnect_backoff_initial_ms),
            ("reconnect_backoff_max_ms", self.reconnect_backoff_max_ms),
            ("authenticate_refused_backoff_ms", self.authenticate_refused_backoff_ms),
            ("failures_max", u64::from(self.failures_max)),
            ("server_idle_timeout_ms", self.server_idle_timeout_ms),
            ("sign_out_outbox_max", u64::from(self.sign_out_outbox_max)),
            ("sign_out_retry_backoff_initial_ms", self.sign_out_retry_backoff_initial_ms),
            ("sign_out_retry_backoff_max_ms", self.sign_out_retry_backoff_max_ms),
            ("close_flush_timeout_ms", self.close_flush_timeout_ms),
            ("sessions_per_user_ip_node_max", u64::from(self.sessions_per_user_ip_node_max)),
        ];
        match fields.iter().find(|(_, value)| *value == 0) {
            Some((field, _)) => Err(ConfigError::Zero { field }),
            None => Ok(()),
        }
    }
}

fn check_backoff(field: &'static str, initial_ms: u64, max_ms: u64) -> Result<(), ConfigError> {
    if initial_ms > max_ms {
        return Err(ConfigError::BackoffInverted { field, initial_ms, max_ms });
    }
    Ok(())
}

/// Settings of a [`SessionPool`](crate::client::SessionPool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Settings of every pooled session. Its budget is shared: each member gets
    /// `sessions_per_user_ip_node_max / sessions_max`.
    pub client: ClientConfig,
    /// Sessions kept open even when idle. Default 1.
    pub sessions_min: u32,
    /// Sessions at most, counting those still signing out. Default 8.
    pub sessions_max: u32,
    /// Callers waiting for a session, at most. Default 256.
    pub waiters_max: u32,
    /// How long a caller waits for a session. Default 10,000.
    pub acquire_timeout_ms: u64,
    /// A free session above `sessions_min` idle this long is evicted (signed out). Default 300,000.
    pub idle_evict_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            client: ClientConfig::default(),
            sessions_min: 1,
            sessions_max: 8,
            waiters_max: 256,
            acquire_timeout_ms: 10_000,
            idle_evict_ms: 300_000,
        }
    }
}

impl PoolConfig {
    /// Checks every range, including the member configuration it derives.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sessions_max == 0 || self.sessions_min > self.sessions_max {
            return Err(ConfigError::PoolSizes { min: self.sessions_min, max: self.sessions_max });
        }
        let budget = self.client.sessions_per_user_ip_node_max;
        if budget / self.sessions_max < 2 {
            return Err(ConfigError::PoolBudgetTooSmall {
                budget,
                sessions_max: self.sessions_max,
            });
        }
        if self.waiters_max == 0 {
            return Err(ConfigError::Zero { field: "waiters_max" });
        }
        if self.acquire_timeout_ms == 0 {
            return Err(ConfigError::Zero { field: "acquire_timeout_ms" });
        }
        if self.idle_evict_ms == 0 {
            return Err(ConfigError::Zero { field: "idle_evict_ms" });
        }
        self.member_config().validate()
    }

    /// The configuration of one member: the client's, with its slice of the budget.
    pub fn member_config(&self) -> ClientConfig {
        let mut member = self.client.clone();
        member.sessions_per_user_ip_node_max =
            self.client.sessions_per_user_ip_node_max / self.sessions_max.max(1);
        member
    }
}
