//! The command line: NebulaGraph's flag names (`--port`, `--session_idle_timeout_secs`, ...) in
//! gflags' `--name=value` form (`--name value` works too; a bare `--enable_authorize` means
//! true), plus graphd's own (`--nodes`, `--max_frame_bytes`, ...).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use graphsession_meta_etcd::{ETCD_REQUEST_BYTES_MAX, EtcdConfig};

use crate::config::{Config, MetaBackend};

/// graphd: NebulaGraph's graph service sessions, over its wire protocol, on graphsession.
#[derive(Debug, Parser)]
#[command(name = "graphd", version, about)]
pub struct Flags {
    /// Address to listen on (also shown in SHOW SESSIONS' GraphAddr).
    #[arg(long = "local_ip", default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// Port of the first node; node i listens on port + i (0: any free port per node).
    #[arg(long, default_value_t = 9669)]
    port: u16,
    /// Graph nodes in this process, on consecutive ports, sharing one embedded meta store.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=512))]
    nodes: u16,
    /// Directory for users, roles, spaces, sessions and the seal key (with --meta etcd the
    /// cluster's key, kept in etcd, is used instead).
    #[arg(long = "data_path", default_value = "data")]
    data_path: PathBuf,
    /// Idle sessions are reclaimed after this many seconds (1..=604800).
    #[arg(long = "session_idle_timeout_secs", default_value_t = 28_800,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    session_idle_timeout_secs: u64,
    /// Seconds between a node's sync rounds with meta (kills and SHOW SESSIONS lag by this).
    #[arg(long = "session_reclaim_interval_secs", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    session_reclaim_interval_secs: u64,
    /// Sessions one user may hold from one client ip on one node (0 or less: unlimited).
    #[arg(
        long = "max_sessions_per_ip_per_user",
        default_value_t = 300,
        allow_negative_numbers = true
    )]
    max_sessions_per_ip_per_user: i64,
    /// Sessions (and TCP connections) one node holds at once.
    #[arg(long = "max_allowed_connections", default_value_t = 9_223_372_036_854_775_807,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_allowed_connections: u64,
    /// Check passwords and roles (NebulaGraph's enable_authorize).
    #[arg(long = "enable_authorize", action = ArgAction::Set, num_args = 0..=1,
          default_value_t = false, default_missing_value = "true")]
    enable_authorize: bool,
    /// Milliseconds a query may run before it is killed (-1005 "Execution had been killed:
    /// query timed out"); 0: never, NebulaGraph's behaviour (it has no such flag). A session
    /// overrides it with `SET SESSION query_timeout_ms = ms`.
    #[arg(long = "query_timeout_ms", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=604_800_000))]
    query_timeout_ms: u64,
    /// Wrong passwords in a row before a user is locked on a node (0: never).
    #[arg(long = "failed_login_attempts", default_value_t = 0)]
    failed_login_attempts: u32,
    /// Seconds a locked user stays locked.
    #[arg(long = "password_lock_time_in_secs", default_value_t = 0)]
    password_lock_time_in_secs: u32,
    /// Seconds before an idle authenticated connection is closed.
    #[arg(long = "client_idle_timeout_secs", default_value_t = 28_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    client_idle_timeout_secs: u64,
    /// Seconds before an idle connection that never authenticated is closed.
    #[arg(long = "unauthenticated_idle_timeout_secs", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    unauthenticated_idle_timeout_secs: u64,
    /// The largest request frame in bytes; a larger one closes its connection.
    #[arg(long = "max_frame_bytes", default_value_t = 16 << 20,
          value_parser = clap::value_parser!(u32).range(64..=0x3FFF_FFFF))]
    max_frame_bytes: u32,
    /// Seconds between writes of the sessions to data_path (also written at shutdown).
    #[arg(long = "snapshot_interval_secs", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_interval_secs: u64,
    /// Log every node event.
    #[arg(long, default_value_t = false)]
    verbose: bool,
    /// For fault tests: read `crash N` and `restart N` lines on standard input and crash node N
    /// (1 for the first) as `kill -9` would crash a graphd process of its own, or open its port
    /// again; each done command is acknowledged by a `crashed N` / `restarted N` line on
    /// standard output. The end of standard input stops graphd as SIGTERM does (the test that
    /// drove it is gone). Off by default.
    #[arg(long = "control_stdin", default_value_t = false)]
    control_stdin: bool,
    /// The meta store: `embedded` (in this process, the default) or
    /// `etcd://host:port[,host:port...]` (shared with every graphd using the same etcd).
    #[arg(long, default_value = "embedded", value_parser = parse_meta)]
    meta: MetaUrl,
    /// With `--meta etcd://...`: the key prefix of this cluster in etcd.
    #[arg(long = "meta_prefix", default_value = "/graphsession/")]
    meta_prefix: String,
    /// With `--meta etcd://...`: seconds a graphd cut from etcd keeps its slots (2..=3600).
    #[arg(long = "meta_lease_ttl_secs", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(2..=3_600))]
    meta_lease_ttl_secs: u64,
    /// With `--meta etcd://...`: the largest the shared catalog (users, roles, spaces and
    /// password hashes, one etcd value) may grow, bytes; a change past it is refused and undone.
    #[arg(long = "meta_catalog_bytes_max", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(4_096..=ETCD_REQUEST_BYTES_MAX as u64))]
    meta_catalog_bytes_max: u64,
    /// Write this process's part of a run's record to this file, one JSON object a line: its
    /// nodes' ids and sessions and, with `--meta etcd://...`, every log entry its replica
    /// applied (tests judge it with the simulator's oracles).
    #[arg(long = "record_events")]
    record_events: Option<std::path::PathBuf>,
}

/// `--meta`'s value: `None` for the embedded store, else etcd's client URLs.
#[derive(Debug, Clone)]
struct MetaUrl(Option<Vec<String>>);

fn parse_meta(text: &str) -> Result<MetaUrl, String> {
    if text == "embedded" {
        return Ok(MetaUrl(None));
    }
    EtcdConfig::parse_url(text)
        .map(|endpoints| MetaUrl(Some(endpoints)))
        .map_err(|error| error.to_string())
}

impl Flags {
    /// Whether node crashes and restarts are taken as commands on standard input
    /// (`--control_stdin`, for fault tests).
    pub fn control_stdin(&self) -> bool {
        self.control_stdin
    }

    /// The configuration these flags ask for.
    pub fn config(&self) -> Config {
        Config {
            local_ip: self.local_ip,
            port: self.port,
            nodes: self.nodes,
            data_path: self.data_path.clone(),
            session_idle_timeout_secs: self.session_idle_timeout_secs,
            session_reclaim_interval_secs: self.session_reclaim_interval_secs,
            max_sessions_per_ip_per_user: self.max_sessions_per_ip_per_user,
            max_allowed_connections: self.max_allowed_connections,
            enable_authorize: self.enable_authorize,
            query_timeout_ms: self.query_timeout_ms,
            failed_login_attempts: self.failed_login_attempts,
            password_lock_time_in_secs: self.password_lock_time_in_secs,
            client_idle_timeout_secs: self.client_idle_timeout_secs,
            unauthenticated_idle_timeout_secs: self.unauthenticated_idle_timeout_secs,
            max_frame_bytes: self.max_frame_bytes,
            snapshot_interval_secs: self.snapshot_interval_secs,
            verbose: self.verbose,
            meta: match &self.meta.0 {
                None => MetaBackend::Embedded,
                Some(endpoints) => MetaBackend::Etcd {
                    endpoints: endpoints.clone(),
                    prefix: self.meta_prefix.clone(),
                    lease_ttl_ms: self.meta_lease_ttl_secs.saturating_mul(1_000),
                    catalog_bytes_max: usize::try_from(self.meta_catalog_bytes_max)
                        .unwrap_or(usize::MAX),
                },
            },
            record_events: self.record_events.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Flags;

    #[test]
    fn query_timeout_ms_is_milliseconds_up_to_a_week_and_off_by_default() {
        let parse = |args: &[&str]| Flags::try_parse_from([&["graphd"], args].concat());
        assert_eq!(parse(&[]).expect("defaults").config().query_timeout_ms, 0);
        let flags = parse(&["--query_timeout_ms=1500"]).expect("1500 ms");
        assert_eq!(flags.config().query_timeout_ms, 1_500);
        assert!(parse(&["--query_timeout_ms=604800001"]).is_err(), "above a week");
        assert!(parse(&["--query_timeout_ms=-1"]).is_err(), "negative");
    }
}
