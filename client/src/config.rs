//! The client's settings: the session machine's (user, password, space, every timeout and
//! budget), the codec's (framing and reply limits), and a pool's sizes.

use graphsession_core::client::{ClientConfig, PoolConfig};
use graphsession_wire::ClientCodecConfig;

use crate::Error;

/// Settings of every session a [`Client`](crate::Client) opens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// User, password, space, timeouts, keepalive, zombie check, sign-out outbox and budget:
    /// see [`ClientConfig`]. `node` and `client_ip` are set by the client.
    pub session: ClientConfig,
    /// Framing (nebula3-python's Header + Compact by default) and reply limits.
    pub codec: ClientCodecConfig,
}

impl Config {
    /// Defaults for `user` with `password`.
    #[must_use]
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Config {
        let session = ClientConfig {
            user: user.into(),
            password: password.into(),
            ..ClientConfig::default()
        };
        Config { session, codec: ClientCodecConfig::default() }
    }

    /// The same with `space` selected in every session.
    #[must_use]
    pub fn with_space(mut self, space: impl Into<String>) -> Config {
        self.session.space = Some(space.into());
        self
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<(), Error> {
        self.session.validate()?;
        self.codec.validate()?;
        Ok(())
    }
}

/// A pool's sizes and waits (the rest comes from the client's [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Sessions kept open even when idle. Default 1.
    pub sessions_min: u32,
    /// Sessions at most, counting those still signing out. Default 8.
    pub sessions_max: u32,
    /// Callers waiting for a session, at most. Default 256.
    pub waiters_max: u32,
    /// How long a caller waits for a session, milliseconds. Default 10,000.
    pub acquire_timeout_ms: u64,
    /// A free session above `sessions_min` idle this long is signed out, milliseconds.
    /// Default 300,000.
    pub idle_evict_ms: u64,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        let pool = PoolConfig::default();
        PoolOptions {
            sessions_min: pool.sessions_min,
            sessions_max: pool.sessions_max,
            waiters_max: pool.waiters_max,
            acquire_timeout_ms: pool.acquire_timeout_ms,
            idle_evict_ms: pool.idle_evict_ms,
        }
    }
}

impl PoolOptions {
    /// The core pool's configuration for sessions configured as `session`.
    pub(crate) fn pool_config(&self, session: ClientConfig) -> PoolConfig {
        PoolConfig {
            client: session,
            sessions_min: self.sessions_min,
            sessions_max: self.sessions_max,
            waiters_max: self.waiters_max,
            acquire_timeout_ms: self.acquire_timeout_ms,
            idle_evict_ms: self.idle_evict_ms,
        }
    }
}
