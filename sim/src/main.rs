//! The simulator's driver: runs seeds over threads, prints a deterministic report and a timing line, and
//! exits non-zero if any seed broke a property. People run it through `cargo xtask sim`.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use graphsession_sim::ids::{Generator, IdRunStats, IdWorld, StepKind};
use graphsession_sim::world::{ClusterRunOutcome, ClusterStats, ClusterWorld};

/// Which world to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum World {
    /// Session and plan id uniqueness under restarts, hand-overs, take-overs and clock steps.
    Ids,
    /// Clients, graph nodes and the meta store under socket resets, client kills and meta loss.
    Cluster,
}

/// Deterministic simulation of session and plan id generation under restarts, hand-overs, take-overs,
/// clock steps and bursts.
#[derive(Debug, Parser)]
#[command(name = "sim")]
struct Args {
    /// How many seeds to run.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Run exactly this one seed, verbosely (configuration and trace hash).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// The id generator the simulated nodes run.
    #[arg(long, value_enum, default_value_t = Generator::Ours)]
    generator: Generator,
    /// Print one line per seed with its trace hash.
    #[arg(long)]
    verbose: bool,
    /// The world to simulate.
    #[arg(long, value_enum, default_value_t = World::Ids)]
    world: World,
}

#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn main() -> ExitCode {
    let args = Args::parse();
    let (seed_start, seeds, verbose) = match args.seed {
        Some(seed) => (seed, 1, true),
        None => (args.seed_start, args.seeds, args.verbose),
    };
    let threads =
        args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if args.world == World::Cluster {
        return cluster_main(&args, seed_start, seeds, verbose, threads);
    }
    let generator = generator_name(args.generator);
    println!(
        "sim: id uniqueness, generator={generator}, seeds {seed_start}..{}",
        seed_start + seeds
    );
    if args.seed.is_some() {
        let world = IdWorld::new(seed_start, args.generator);
        println!("SEED={seed_start}");
        println!("config: {:?}", world.config());
    }
    let generator_kind = args.generator;
    let (outcomes, elapsed_s) = run_seeds(seed_start, seeds, threads, |seed| {
        let outcome = IdWorld::new(seed, generator_kind).run();
        let failed = outcome.violation.is_some();
        (outcome, failed)
    });
    let mut total = IdRunStats::default();
    let mut first_failure = None;
    for outcome in &outcomes {
        total.add(&outcome.stats);
        if verbose {
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
        if first_failure.is_none() && outcome.violation.is_some() {
            first_failure = Some(outcome);
        }
    }
    let steps: Vec<String> = StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    println!(
        "summary: seeds={} session_ids={} plan_ids={} lease_extensions={} fenced={} backpressure={} steps: {}",
        outcomes.len(),
        total.session_ids,
        total.plan_ids,
        total.lease_extensions,
        total.fenced,
        total.backpressure,
        steps.join(" ")
    );
    let ids = total.session_ids + total.plan_ids;
    println!(
        "elapsed: {elapsed_s:.2} s, {:.0} seeds/s, {:.1} M ids checked/s on {threads} threads",
        outcomes.len() as f64 / elapsed_s.max(1e-9),
        ids as f64 / elapsed_s.max(1e-9) / 1e6
    );
    match first_failure {
        None => {
            println!("verdict: PASS ({} seeds, {ids} ids checked, no duplicate)", outcomes.len());
            ExitCode::SUCCESS
        }
        Some(outcome) => {
            let violation =
                outcome.violation.as_ref().map_or("", |violation| violation.message.as_str());
            let step = outcome.violation.as_ref().map_or(0, |violation| violation.step);
            println!("verdict: FAIL at seed {} step {step}: {violation}", outcome.seed);
            println!("replay: cargo xtask sim --seed {} --generator {generator}", outcome.seed);
            ExitCode::FAILURE
        }
    }
}

/// Runs seeds on `threads` workers. Seeds are handed out in increasing order and workers stop taking seeds
/// above the lowest failing one, so the reported first failure is the same for any thread count.
/// `run` returns a seed's outcome and whether it failed.
#[expect(
    clippy::disallowed_methods,
    reason = "the driver is the edge: it spawns the worker threads"
)]
#[expect(clippy::disallowed_types, reason = "the driver is the edge: it times the run")]
fn run_seeds<O: Send>(
    seed_start: u64,
    seeds: u64,
    threads: usize,
    run: impl Fn(u64) -> (O, bool) + Sync,
) -> (Vec<O>, f64) {
    let start = std::time::Instant::now();
    let next_offset = AtomicU64::new(0);
    let lowest_failing_offset = AtomicU64::new(u64::MAX);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let offset = next_offset.fetch_add(1, Ordering::Relaxed);
                    if offset >= seeds || offset > lowest_failing_offset.load(Ordering::Relaxed) {
                        break;
                    }
                    let (outcome, failed) = run(seed_start + offset);
                    if failed {
                        lowest_failing_offset.fetch_min(offset, Ordering::Relaxed);
                    }
                    mine.push((offset, outcome, failed));
                }
                outcomes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(mine);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    outcomes.sort_by_key(|(offset, _, _)| *offset);
    // Drop seeds past the first failure: whether a worker reached them depends on timing.
    if let Some(failing) = outcomes.iter().position(|(_, _, failed)| *failed) {
        outcomes.truncate(failing + 1);
    }
    let outcomes = outcomes.into_iter().map(|(_, outcome, _)| outcome).collect();
    (outcomes, start.elapsed().as_secs_f64())
}

/// The cluster world's report: the same seeds, threads, verdict and replay line as the id world's.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn cluster_main(
    args: &Args,
    seed_start: u64,
    seeds: u64,
    verbose: bool,
    threads: usize,
) -> ExitCode {
    if args.seed.is_some() {
        // SEED= first, then the configuration the seed derives (STYLE.md, Simulator).
        println!("SEED={seed_start}");
        match ClusterWorld::new(seed_start) {
            Ok(world) => println!("config: {:?}", world.config()),
            Err(error) => println!("config: refused: {error}"),
        }
    }
    println!("sim: cluster world, seeds {seed_start}..{}", seed_start + seeds);
    let (outcomes, elapsed_s) = run_seeds(seed_start, seeds, threads, |seed| {
        let outcome = match ClusterWorld::new(seed) {
            Ok(world) => world.run(),
            Err(message) => ClusterRunOutcome {
                seed,
                stats: ClusterStats::default(),
                trace_hash: 0,
                violation: Some(graphsession_sim::world::ClusterViolation { step: 0, message }),
            },
        };
        let failed = outcome.violation.is_some();
        (outcome, failed)
    });
    let mut total = ClusterStats::default();
    let mut first_failure = None;
    for outcome in &outcomes {
        total.add(&outcome.stats);
        if verbose {
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
        if first_failure.is_none() && outcome.violation.is_some() {
            first_failure = Some(outcome);
        }
    }
    let steps: Vec<String> = graphsession_sim::world::StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    println!(
        "summary: seeds={} steps={} liveness_steps={} sessions created={} signed_out={} expired={} \
         ended_other={} queries={} pick_ups={}; clients: ready={} results={} failed={} leaked={} zombies={}",
        outcomes.len(),
        total.steps(),
        total.liveness_steps,
        total.sessions_created,
        total.sessions_signed_out,
        total.sessions_expired,
        total.sessions_ended_other,
        total.queries,
        total.pick_ups,
        total.client_ready,
        total.client_results,
        total.client_failed,
        total.client_leaked,
        total.client_zombies,
    );
    println!(
        "faults: resets={} kills={} meta_losses={} node_restarts={}; safety steps: {}",
        total.resets,
        total.kills,
        total.meta_losses,
        total.node_restarts,
        steps.join(" ")
    );
    println!(
        "elapsed: {elapsed_s:.2} s, {:.1} seeds/s, {:.0} steps/s on {threads} threads",
        outcomes.len() as f64 / elapsed_s.max(1e-9),
        total.steps() as f64 / elapsed_s.max(1e-9)
    );
    match first_failure {
        None => {
            println!(
                "verdict: PASS ({} seeds, {} sessions checked)",
                outcomes.len(),
                total.sessions_created
            );
            ExitCode::SUCCESS
        }
        Some(outcome) => {
            let violation =
                outcome.violation.as_ref().map_or("", |violation| violation.message.as_str());
            let step = outcome.violation.as_ref().map_or(0, |violation| violation.step);
            println!("verdict: FAIL at seed {} step {step}: {violation}", outcome.seed);
            println!("replay: cargo xtask sim --world cluster --seed {}", outcome.seed);
            ExitCode::FAILURE
        }
    }
}

fn generator_name(generator: Generator) -> String {
    use clap::ValueEnum;
    generator.to_possible_value().map_or_else(String::new, |value| value.get_name().to_owned())
}
