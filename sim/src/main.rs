//! The simulator's driver: runs seeds over threads with a progress bar, prints a deterministic
//! report, a timing line and the verdict, and exits non-zero if any seed broke a property (with
//! `--expect-property`, zero only if one broke an expected property). People and CI run it
//! through `cargo xtask sim`.

mod driver;

use std::process::ExitCode;

use clap::Parser;
use graphsession_sim::ids::Generator;
use graphsession_sim::property::property_of;
use graphsession_sim::world::ClientKind;

use crate::driver::Verdict;
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
    /// Processes sharing users and roles through one fenced register (session-core's
    /// CatalogTurns) under crashes, lost writes, failed takes and late watch deliveries.
    Catalog,
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
/// plan ids under restarts, hand-overs, take-overs and clock steps. The catalog world: processes
/// sharing users and roles through a fenced register, each following CatalogTurns.
///
/// Without --seeds, --seed, --duration or --replay it runs seeds for a minute on every core,
/// with a progress bar.
#[derive(Debug, Parser)]
#[command(name = "sim")]
struct Args {
    /// The world to simulate.
    #[arg(long, value_enum, default_value_t = World::Cluster)]
    world: World,
    /// How many seeds to run (with --duration: at most this many).
    #[arg(long)]
    seeds: Option<u64>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Run exactly this one seed, verbosely (configuration and trace hash).
    #[arg(long)]
    seed: Option<u64>,
    /// Run seeds from --seed-start until this much time passed (for example 90s, 10m, 1h).
    /// The default when neither --seeds nor --seed is given: 60s.
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
    #[arg(long, default_value = DEFAULT_FAILURE_DIR)]
    failure_dir: String,
    /// The id generator the simulated nodes run (the id world's, and the cluster world's
    /// nodes' as the world supports it).
    #[arg(long, value_enum, default_value_t = GeneratorArg::Ours)]
    generator: GeneratorArg,
    /// The run must fail, with one of these properties (comma-separated tags such as leak,
    /// login_after_close, zombie, duplicate_id; `unclassified` for an untagged violation):
    /// exit 0 if the first failure breaks one of them, 1 if the run passes or fails otherwise.
    #[arg(long, value_delimiter = ',')]
    expect_property: Vec<String>,
}

/// Where a failing cluster seed's replay file goes unless `--failure-dir` says otherwise.
const DEFAULT_FAILURE_DIR: &str = "target/sim-failures";

/// The run's length when neither --seeds, --seed nor --duration is given: a person running the
/// main job gets a minute's work, not a second's.
const DEFAULT_DURATION_S: f64 = 60.0;

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
    let refused = refused_options(&args);
    if !refused.is_empty() {
        #[expect(clippy::print_stderr, reason = "the driver's refusal is its output")]
        {
            let world = clap::ValueEnum::to_possible_value(&args.world)
                .map_or_else(String::new, |value| value.get_name().to_owned());
            eprintln!(
                "sim: --world {world} does not honour {}; see --help for the worlds each applies to",
                refused.join(", ")
            );
        }
        return ExitCode::from(2);
    }
    let verdict = run(&args);
    exit_status(&verdict, &args.expect_property)
}

/// The options given that the chosen world would not honour: refused, never ignored (the trace,
/// determinism check, replay, failure directory and client are the cluster world's; the
/// generator is the id and cluster worlds').
fn refused_options(args: &Args) -> Vec<&'static str> {
    let mut refused = Vec::new();
    if args.world != World::Cluster {
        let cluster_only = [
            (args.client != Client::Ours, "--client"),
            (args.trace.is_some(), "--trace"),
            (args.check_determinism, "--check-determinism"),
            (args.replay.is_some(), "--replay"),
            (args.failure_dir != DEFAULT_FAILURE_DIR, "--failure-dir"),
        ];
        refused.extend(cluster_only.into_iter().filter(|(given, _)| *given).map(|(_, name)| name));
    }
    if args.world == World::Catalog && args.generator != GeneratorArg::Ours {
        refused.push("--generator");
    }
    refused
}

/// Which seeds the arguments ask for.
fn seeds(args: &Args) -> Seeds {
    let single = args.seed.is_some();
    let duration_s = match (args.seed, args.seeds, args.duration) {
        (None, None, None) => Some(DEFAULT_DURATION_S),
        (Some(_), _, _) => None,
        _ => args.duration,
    };
    let (start, count) = match args.seed {
        Some(seed) => (seed, 1),
        None if duration_s.is_some() => {
            (args.seed_start, args.seeds.unwrap_or(u64::MAX - args.seed_start))
        }
        None => (args.seed_start, args.seeds.unwrap_or(0)),
    };
    Seeds {
        start,
        count,
        duration_s,
        threads: if single { 1 } else { args.threads.unwrap_or_else(cores) },
        progress: !single,
    }
}

fn run(args: &Args) -> Verdict {
    let client = match args.client {
        Client::Ours => ClientKind::Ours,
        Client::Legacy => ClientKind::Legacy,
    };
    if let Some(path) = &args.replay {
        return driver::cluster::replay(path, None);
    }
    let single = args.seed.is_some();
    let seeds = seeds(args);
    let verbose = single || args.verbose;
    match args.world {
        World::Ids => driver::ids::run(seeds, args.generator.into(), verbose, single),
        World::Catalog => driver::catalog::run(seeds, verbose, single),
        World::Cluster => {
            if single {
                driver::cluster::print_config(seeds.start);
            }
            let run = ClusterRun {
                seeds,
                client,
                generator: args.generator.into(),
                verbose,
                trace_path: args.trace.clone(),
                check_determinism: args.check_determinism,
                // Coverage is a property of a whole run of our client.
                require_marks: client == ClientKind::Ours && !single,
                failure_dir: args.failure_dir.clone(),
            };
            driver::cluster::run(&run)
        }
    }
}

/// The exit status: 0 for a pass; with --expect-property, 0 only for a violation of one of the
/// expected properties (a run that must fail fails for the expected reason, not for any).
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn exit_status(verdict: &Verdict, expected: &[String]) -> ExitCode {
    if expected.is_empty() {
        return if *verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let (found, as_expected) = match verdict {
        Verdict::Pass => ("no violation".to_owned(), false),
        Verdict::Error => ("a failure that is no violation of a property".to_owned(), false),
        Verdict::Violation(message) => {
            let property = property_of(message);
            (format!("property {property}"), expected.iter().any(|name| name == property))
        }
    };
    println!(
        "expected property: one of {}; found {found}: {}",
        expected.join(", "),
        if as_expected { "as expected" } else { "NOT AS EXPECTED" }
    );
    if as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Args, refused_options};

    fn refused(line: &[&str]) -> Vec<&'static str> {
        let args = Args::try_parse_from(std::iter::once("sim").chain(line.iter().copied()));
        refused_options(&args.expect("the line parses"))
    }

    #[test]
    fn a_world_refuses_the_options_it_would_not_honour() {
        assert!(refused(&["--trace", "t.jsonl", "--check-determinism"]).is_empty());
        assert!(refused(&["--world", "ids", "--generator", "naive"]).is_empty());
        assert_eq!(
            refused(&["--world", "ids", "--trace", "t.jsonl", "--replay", "r.json"]),
            ["--trace", "--replay"]
        );
        assert_eq!(
            refused(&["--world", "catalog", "--generator", "naive", "--client", "legacy"]),
            ["--client", "--generator"]
        );
        assert_eq!(
            refused(&["--world", "catalog", "--failure-dir", "x", "--check-determinism"]),
            ["--check-determinism", "--failure-dir"]
        );
    }
}
