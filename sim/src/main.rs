//! The simulator's driver: runs seeds over threads with a progress bar, prints a deterministic
//! report, a timing line and the verdict, and exits non-zero if any seed broke a property. People
//! and CI run it through `cargo xtask sim`.

mod driver;

use std::process::ExitCode;

use clap::Parser;
use graphsession_sim::ids::Generator;
use graphsession_sim::world::ClientKind;

use crate::driver::cluster::ClusterRun;
use crate::driver::parallel::Seeds;

/// Which world to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum World {
    /// Clients, graph nodes and the meta store under resets, kills, crashes, partitions, clock
    /// steps and meta faults.
    Cluster,
    /// Session and plan id uniqueness under restarts, hand-overs, take-overs and clock steps.
    Ids,
}

/// Which id generator the nodes run (the library's [`Generator`], named for the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum GeneratorArg {
    /// id-gen's session and plan id generators under the lease protocol.
    Ours,
    /// A time-and-counter id that restarts with the process: the simulator must catch it.
    Naive,
}

impl From<GeneratorArg> for Generator {
    fn from(generator: GeneratorArg) -> Generator {
        match generator {
            GeneratorArg::Ours => Generator::Ours,
            GeneratorArg::Naive => Generator::Naive,
        }
    }
}

/// Which client the cluster world's processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Client {
    /// This project's session machines and pools.
    Ours,
    /// The legacy client model (close without sign-out when disconnected, re-login without
    /// sign-out, no -1002 handling, no zombie check): the simulator must catch it.
    Legacy,
}

/// Deterministic simulation, one seed per run. The cluster world (the default): clients, graph
/// nodes and a meta store under faults, with invariants and oracles after every step, a safety
/// and a liveness phase, coverage marks, shrinking and replay files. The id world: session and
/// plan ids under restarts, hand-overs, take-overs and clock steps.
#[derive(Debug, Parser)]
#[command(name = "sim")]
struct Args {
    /// The world to simulate.
    #[arg(long, value_enum, default_value_t = World::Cluster)]
    world: World,
    /// How many seeds to run.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Run exactly this one seed, verbosely (configuration and trace hash).
    #[arg(long)]
    seed: Option<u64>,
    /// Run seeds from --seed-start until this much time passed (for example 90s, 10m, 1h);
    /// --seeds is then ignored.
    #[arg(long, value_parser = parse_duration_s)]
    duration: Option<f64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one line per seed with its trace hash.
    #[arg(long)]
    verbose: bool,
    /// Cluster world: the client the processes run.
    #[arg(long, value_enum, default_value_t = Client::Ours)]
    client: Client,
    /// Cluster world: write every step of every seed run as JSON Lines to this file.
    #[arg(long)]
    trace: Option<String>,
    /// Cluster world: run every seed twice and report the first step where the runs differ.
    #[arg(long)]
    check_determinism: bool,
    /// Cluster world: run a replay file (a shrunk failure) instead of seeds.
    #[arg(long)]
    replay: Option<String>,
    /// Cluster world: where a failing seed's shrunk replay file is written.
    #[arg(long, default_value = "target/sim-failures")]
    failure_dir: String,
    /// Id world: the id generator the simulated nodes run.
    #[arg(long, value_enum, default_value_t = GeneratorArg::Ours)]
    generator: GeneratorArg,
}

/// `90s`, `10m`, `1h` or plain seconds.
fn parse_duration_s(text: &str) -> Result<f64, String> {
    let (number, unit_s) = match text.char_indices().last() {
        Some((index, 's')) => (&text[..index], 1.0),
        Some((index, 'm')) => (&text[..index], 60.0),
        Some((index, 'h')) => (&text[..index], 3_600.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.parse().map_err(|_| format!("not a duration: {text:?}"))?;
    if value.is_finite() && value > 0.0 {
        Ok(value * unit_s)
    } else {
        Err(format!("not a positive duration: {text:?}"))
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let client = match args.client {
        Client::Ours => ClientKind::Ours,
        Client::Legacy => ClientKind::Legacy,
    };
    if let Some(path) = &args.replay {
        return driver::cluster::replay(path, None);
    }
    let single = args.seed.is_some();
    let (start, count, verbose) = match args.seed {
        Some(seed) => (seed, 1, true),
        None if args.duration.is_some() => {
            (args.seed_start, u64::MAX - args.seed_start, args.verbose)
        }
        None => (args.seed_start, args.seeds, args.verbose),
    };
    let seeds = Seeds {
        start,
        count,
        duration_s: args.duration,
        threads: if single { 1 } else { args.threads.unwrap_or_else(cores) },
        progress: !single,
    };
    match args.world {
        World::Ids => driver::ids::run(seeds, args.generator.into(), verbose, single),
        World::Cluster => {
            if single {
                driver::cluster::print_config(start);
            }
            let run = ClusterRun {
                seeds,
                client,
                verbose,
                trace_path: args.trace.clone(),
                check_determinism: args.check_determinism,
                // Coverage is a property of a whole default-sized run of our client.
                require_marks: client == ClientKind::Ours && !single && count >= 1_000,
                failure_dir: args.failure_dir.clone(),
            };
            driver::cluster::run(&run)
        }
    }
}
