//! `graphd-load` (`cargo xtask load`): graphd, or its floor, started in this process on free
//! loopback ports over a fresh data directory, on its own tokio runtime; the load generator
//! (`graphsession_graphd::load`) on another; the table of calls per second and p50/p99 per RPC
//! printed. With `--compare`, graphd and then the floor under the same load, and their ratios.
//! With `--crash`, node 2 crashes (connections and memory gone at once, as `kill -9`) a third
//! into the run and comes back at two thirds. After a run of graphd, every session must be gone
//! (meta's count, each node's registry, SHOW SESSIONS): the exit status says whether it is, and
//! whether any call failed or any session was lost.
#![expect(clippy::print_stdout, reason = "the binary prints its report")]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use graphsession_graphd::load::{self, Connection, Flavour, Options, Report};
use graphsession_graphd::{Config, Server};
use tokio::runtime::Runtime;
use tokio::time::Instant;

/// graphd under load on loopback: throughput and p50/p99 latency per RPC.
#[derive(Debug, Parser)]
#[command(name = "graphd-load", version)]
struct Args {
    /// Concurrent client connections.
    #[arg(short = 'c', long, default_value_t = 32)]
    connections: usize,
    /// How long sessions are started (`10s`, `500ms`, `2m`; plain numbers are seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Graph nodes (consecutive ports, one meta store); connections spread over them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    nodes: u16,
    /// Load the floor (graphd's connection path without the session kernel) instead.
    #[arg(long, conflicts_with_all = ["compare", "crash"])]
    floor: bool,
    /// Load graphd, then the floor, and print their ratios.
    #[arg(long)]
    compare: bool,
    /// With --compare: this many graphd and floor runs, alternating, then the median ratios.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Crash node 2 a third into the run and restart it at two thirds (needs --nodes >= 2).
    #[arg(long)]
    crash: bool,
    /// Executes per session.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    executes: u32,
    /// The statement each execute runs.
    #[arg(long, default_value = "YIELD 1")]
    statement: String,
    /// Whose framing: python (Header + Compact) or node (Framed + Binary).
    #[arg(long, value_enum, default_value = "python")]
    flavour: Flavour,
    /// graphd's --session_idle_timeout_secs (a login cut by a crash leaves a session only this
    /// ends; with --crash the run waits for it).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    session_idle_timeout_secs: Option<u64>,
    /// Sessions logged in before the run, idle during it and signed out after it (graphd
    /// only): a large state for graphd's periodic session writes, measured by the load's
    /// latencies (its max above all). The floor holds no state, so not with --floor or
    /// --compare.
    #[arg(long, default_value_t = 0, conflicts_with_all = ["floor", "compare"])]
    held_sessions: usize,
    /// graphd's --snapshot_interval_secs.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_interval_secs: Option<u64>,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
}

/// The idle timeout a crash run uses unless told: short, so its orphans end within the run.
const CRASH_IDLE_TIMEOUT_SECS: u64 = 4;
/// graphd's sync interval under load (meta is in the process: rounds are cheap).
const SYNC_INTERVAL_SECS: u64 = 1;

fn main() -> Result<ExitCode> {
    let args = Args::parse();
    if args.crash && args.nodes < 2 {
        bail!("--crash needs --nodes 2 or more");
    }
    let runtime = |threads: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()
            .context("cannot start a tokio runtime")
    };
    let (server, client) = (runtime(args.server_threads)?, runtime(args.client_threads)?);
    let mut ok = true;
    let mut pairs = Vec::new();
    let runs = if args.compare { args.repeat } else { 1 };
    for _ in 0..runs {
        let report = one_run(&args, Kind::of(&args), &server, &client, &mut ok)?;
        if args.compare {
            let floor = one_run(&args, Kind::Floor, &server, &client, &mut ok)?;
            println!("{}", load::ratio_table(&report, &floor));
            pairs.push((report, floor));
        }
    }
    if pairs.len() > 1 {
        println!("{}", load::median_ratio_table(&pairs));
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Graphd,
    Floor,
}

impl Kind {
    fn of(args: &Args) -> Kind {
        if args.floor { Kind::Floor } else { Kind::Graphd }
    }
}

/// One server started, loaded, checked and stopped; `ok` is cleared by any failure.
fn one_run(
    args: &Args,
    kind: Kind,
    server_rt: &Runtime,
    client_rt: &Runtime,
    ok: &mut bool,
) -> Result<Report> {
    let dir = fresh_dir(kind);
    let config = config(args, &dir);
    let mut server = server_rt.block_on(async {
        match kind {
            Kind::Graphd => graphsession_graphd::start(config).await,
            Kind::Floor => graphsession_graphd::server::start_floor(config).await,
        }
    })?;
    let options = Options {
        executes_per_session: args.executes,
        statement: args.statement.clone(),
        flavour: args.flavour,
        ..Options::new(server.addrs().to_vec(), args.connections, args.duration)
    };
    let held = match (kind, args.held_sessions) {
        (Kind::Graphd, count) if count > 0 => Some(hold(&server, args, client_rt, count)?),
        _ => None,
    };
    let load = client_rt.spawn(load::run(options, title(args, kind)));
    if args.crash && kind == Kind::Graphd {
        pause(client_rt, args.duration / 3);
        server_rt.block_on(server.crash_node(1))?;
        pause(client_rt, args.duration / 3);
        server_rt.block_on(server.restart_node(1))?;
    }
    let report = client_rt.block_on(load).context("the load generator failed")?;
    println!("{}", report.table());
    let tally = &report.tally;
    *ok &= tally.errors == 0 && tally.sessions_lost == 0;
    if let Some(held) = held {
        let started = Instant::now();
        let count = held.len();
        client_rt.block_on(held.sign_out()).context("signing the held sessions out")?;
        println!("held sessions: {count} signed out in {:.1} s", started.elapsed().as_secs_f64());
    }
    if kind == Kind::Graphd {
        let settle = Duration::from_secs(match args.crash {
            true => idle_timeout_secs(args) + 4 * SYNC_INTERVAL_SECS + 2,
            false => 3 * SYNC_INTERVAL_SECS,
        });
        *ok &= client_rt.block_on(none_left(&server, args.flavour, settle))?;
    }
    server_rt.block_on(server.shutdown())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

/// Whether every session is gone within `settle`: meta's count and every node's registry
/// reach zero, SHOW SESSIONS lists only the session that asks, and after its sign-out nothing
/// is left at all.
async fn none_left(server: &Server, flavour: Flavour, settle: Duration) -> Result<bool> {
    let started = Instant::now();
    let mut census = server.census().await?;
    while (census.meta > 0 || census.nodes.iter().any(|&held| held > 0))
        && started.elapsed() < settle
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        census = server.census().await?;
    }
    let waited = started.elapsed().as_secs_f64();
    let wait = Duration::from_secs(10);
    let mut admin = Connection::connect(server.addrs()[0], flavour, wait).await?;
    let session = admin.authenticate("root", "nebula").await?;
    let listed = admin.execute(session, "SHOW SESSIONS").await?;
    admin.sign_out(session).await?;
    let after = server.census().await?;
    println!(
        "left after the run ({waited:.1} s later): meta {}, nodes {:?}; SHOW SESSIONS lists {} \
         besides its own; after its sign-out: meta {}, nodes {:?}",
        census.meta,
        census.nodes,
        listed.saturating_sub(1),
        after.meta,
        after.nodes
    );
    let empty = |census: &graphsession_graphd::actor::Census| {
        census.meta == 0 && census.nodes.iter().all(|&held| held == 0)
    };
    Ok(empty(&census) && listed == 1 && empty(&after))
}

/// Logs in `count` sessions to hold through the run, and says how long it took.
fn hold(server: &Server, args: &Args, client_rt: &Runtime, count: usize) -> Result<load::Held> {
    let started = Instant::now();
    let addrs = server.addrs().to_vec();
    let held = client_rt
        .block_on(load::Held::log_in(&addrs, args.flavour, "root", "nebula", count))
        .context("logging in the held sessions")?;
    println!("held sessions: {count} logged in in {:.1} s", started.elapsed().as_secs_f64());
    Ok(held)
}

/// Sleeps `duration` on `runtime`.
fn pause(runtime: &Runtime, duration: Duration) {
    runtime.block_on(async move { tokio::time::sleep(duration).await });
}

fn title(args: &Args, kind: Kind) -> String {
    let what = match kind {
        Kind::Graphd => format!("graphd --nodes {}", args.nodes),
        Kind::Floor => format!("floor --nodes {}", args.nodes),
    };
    let crash = match args.crash && kind == Kind::Graphd {
        true => ", node 2 crashed at 1/3 and restarted at 2/3",
        false => "",
    };
    format!(
        "{what}: {} connections ({}), {} execute(s) of {:?} per session{crash}",
        args.connections,
        flavour(args.flavour),
        args.executes,
        args.statement
    )
}

fn idle_timeout_secs(args: &Args) -> u64 {
    match (args.session_idle_timeout_secs, args.crash) {
        (Some(secs), _) => secs,
        (None, true) => CRASH_IDLE_TIMEOUT_SECS,
        (None, false) => Config::default().session_idle_timeout_secs,
    }
}

fn config(args: &Args, dir: &std::path::Path) -> Config {
    Config {
        port: 0,
        nodes: args.nodes,
        data_path: dir.to_path_buf(),
        session_idle_timeout_secs: idle_timeout_secs(args),
        session_reclaim_interval_secs: SYNC_INTERVAL_SECS,
        // One user from one address holds every session of the load.
        max_sessions_per_ip_per_user: 0,
        snapshot_interval_secs: args
            .snapshot_interval_secs
            .unwrap_or(Config::default().snapshot_interval_secs),
        ..Config::default()
    }
}

fn fresh_dir(kind: Kind) -> PathBuf {
    let name = format!("graphd-load-{}-{kind:?}", std::process::id());
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number.parse().map_err(|_| format!("not a duration: {text:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        _ => Err(format!("not a duration: {text:?} (use ms, s or m)")),
    }
}

fn flavour(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Python => "python framing",
        Flavour::Node => "Node.js framing",
    }
}
