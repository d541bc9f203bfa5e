//! Configuration ranges of the client machine and the pool: each refusal has its own typed error, the
//! boundaries are where the docs put them, and a machine or pool is never built from a refused value.

#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::client::{
    ClientConfig, ConfigError, PoolConfig, SERVER_SESSIONS_PER_USER_IP_MAX, SessionMachine,
    SessionPool,
};

fn client(change: impl FnOnce(&mut ClientConfig)) -> Result<(), ConfigError> {
    let mut config = ClientConfig::default();
    change(&mut config);
    let validated = config.validate();
    assert_eq!(SessionMachine::new(config).err(), validated.clone().err(), "machine agrees");
    validated
}

fn pool(change: impl FnOnce(&mut PoolConfig)) -> Result<(), ConfigError> {
    let mut config = PoolConfig::default();
    change(&mut config);
    let validated = config.validate();
    assert_eq!(SessionPool::new(config).err(), validated.clone().err(), "pool agrees");
    validated
}

#[test]
fn the_default_client_and_pool_configurations_are_valid() {
    assert_eq!(client(|_| {}), Ok(()));
    assert_eq!(pool(|_| {}), Ok(()));
}

#[test]
fn a_client_needs_a_user_a_quotable_space_and_positive_durations() {
    assert_eq!(client(|c| c.user.clear()), Err(ConfigError::EmptyUser));
    for space in ["", "a`b", "tab\there", &"s".repeat(129)] {
        let refused = Err(ConfigError::InvalidSpaceName { space: space.to_owned() });
        assert_eq!(client(|c| c.space = Some(space.to_owned())), refused);
    }
    assert_eq!(client(|c| c.space = Some("s".repeat(128))), Ok(()));
    assert_eq!(
        client(|c| c.connect_timeout_ms = 0),
        Err(ConfigError::Zero { field: "connect_timeout_ms" })
    );
    assert_eq!(client(|c| c.failures_max = 0), Err(ConfigError::Zero { field: "failures_max" }));
}

#[test]
fn keepalives_and_executes_must_fit_inside_the_servers_idle_timeout() {
    let idle_ms = 28_800_000;
    let too_slow = Err(ConfigError::KeepaliveTooSlow {
        keepalive_interval_ms: idle_ms / 2,
        server_idle_timeout_ms: idle_ms,
    });
    assert_eq!(client(|c| c.keepalive_interval_ms = idle_ms / 2), too_slow);
    assert_eq!(client(|c| c.keepalive_interval_ms = idle_ms / 2 - 1), Ok(()));
    let too_long = Err(ConfigError::ExecuteTimeoutTooLong { execute_timeout_ms: idle_ms });
    assert_eq!(client(|c| c.execute_timeout_ms = idle_ms), too_long);
    assert_eq!(client(|c| c.execute_timeout_ms = idle_ms - 1), Ok(()));
}

#[test]
fn the_client_budget_is_two_up_to_below_the_servers_limit() {
    let server_max = SERVER_SESSIONS_PER_USER_IP_MAX;
    for max in [1, server_max, server_max + 1] {
        let refused = Err(ConfigError::BudgetOutOfRange { max, server_max });
        assert_eq!(client(|c| c.sessions_per_user_ip_node_max = max), refused);
    }
    for max in [2, server_max - 1] {
        assert_eq!(client(|c| c.sessions_per_user_ip_node_max = max), Ok(()));
    }
}

#[test]
fn a_backoff_may_start_at_its_maximum_but_not_above_it() {
    assert_eq!(client(|c| c.reconnect_backoff_initial_ms = c.reconnect_backoff_max_ms), Ok(()));
    let inverted = Err(ConfigError::BackoffInverted {
        field: "reconnect_backoff",
        initial_ms: 30_001,
        max_ms: 30_000,
    });
    assert_eq!(client(|c| c.reconnect_backoff_initial_ms = 30_001), inverted);
    let inverted = Err(ConfigError::BackoffInverted {
        field: "sign_out_retry_backoff",
        initial_ms: 60_001,
        max_ms: 60_000,
    });
    assert_eq!(client(|c| c.sign_out_retry_backoff_initial_ms = 60_001), inverted);
}

#[test]
fn pool_sizes_must_be_ordered_and_the_maximum_positive() {
    assert_eq!(pool(|p| p.sessions_max = 0), Err(ConfigError::PoolSizes { min: 1, max: 0 }));
    let inverted = |p: &mut PoolConfig| (p.sessions_min, p.sessions_max) = (5, 4);
    assert_eq!(pool(inverted), Err(ConfigError::PoolSizes { min: 5, max: 4 }));
    assert_eq!(pool(|p| (p.sessions_min, p.sessions_max) = (4, 4)), Ok(()));
    assert_eq!(pool(|p| p.sessions_min = 0), Ok(()));
}

#[test]
fn every_pooled_session_gets_room_for_itself_and_one_pending_sign_out() {
    // The default budget is 100: 50 members get 2 each, 51 would get 1.
    assert_eq!(pool(|p| p.sessions_max = 50), Ok(()));
    let refused = Err(ConfigError::PoolBudgetTooSmall { budget: 100, sessions_max: 51 });
    assert_eq!(pool(|p| p.sessions_max = 51), refused);
    let config = PoolConfig { sessions_max: 50, ..PoolConfig::default() };
    assert_eq!(config.member_config().sessions_per_user_ip_node_max, 2);
}

#[test]
fn pool_waiters_and_timeouts_must_be_positive_and_members_valid() {
    for (field, change) in [
        ("waiters_max", (|p: &mut PoolConfig| p.waiters_max = 0) as fn(&mut PoolConfig)),
        ("acquire_timeout_ms", |p| p.acquire_timeout_ms = 0),
        ("idle_evict_ms", |p| p.idle_evict_ms = 0),
    ] {
        assert_eq!(pool(change), Err(ConfigError::Zero { field }));
    }
    assert_eq!(pool(|p| p.client.user.clear()), Err(ConfigError::EmptyUser));
}

#[test]
fn debug_output_names_the_user_and_never_the_password() {
    let config = ClientConfig {
        user: "alice".into(),
        password: "hunter2".into(),
        ..ClientConfig::default()
    };
    let debug = format!("{config:?}");
    assert!(debug.starts_with("ClientConfig {"), "{debug}");
    assert!(debug.contains("\"alice\"") && debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn a_machine_keeps_the_configuration_it_was_built_with() {
    let config = ClientConfig {
        user: "alice".into(),
        keepalive_interval_ms: 1_234,
        ..ClientConfig::default()
    };
    let machine = SessionMachine::new(config.clone()).unwrap();
    assert_eq!(machine.config(), &config);
}
