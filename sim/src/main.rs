//! The simulator's driver: runs seeds over threads, prints a deterministic report and a timing line, and
//! exits non-zero if any seed broke a property. People run it through `cargo xtask sim`.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use graphsession_sim::ids::{Generator, IdRunOutcome, IdRunStats, IdWorld, StepKind};
use graphsession_sim::world::{ClusterRunOutcome, ClusterStats, ClusterWorld};

/// Which world to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum World {
    /// Session and plan id uniqueness under restarts, hand-overs, take-overs and clock steps.
    Ids,
    /// Clients, graph nodes and the meta store under socket resets, client kills and meta loss.
    Cluster,
}

/// Deterministic simulation, one seed per run: the id world (session and plan ids under restarts,
/// hand-overs, take-overs, clock steps and bursts) or the cluster world (clients, graph nodes and a
/// meta store under resets, kills, restarts and message loss).
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

/// What the driver needs from any world's outcome for one seed.
trait RunOutcome {
    /// The seed.
    fn seed(&self) -> u64;
    /// The run's trace hash.
    fn trace_hash(&self) -> u64;
    /// The first violated property: the step and what was expected.
    fn violation(&self) -> Option<(u64, &str)>;
}

impl RunOutcome for IdRunOutcome {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn trace_hash(&self) -> u64 {
        self.trace_hash
    }
    fn violation(&self) -> Option<(u64, &str)> {
        self.violation
            .as_ref()
            .map(|violation| (u64::from(violation.step), violation.message.as_str()))
    }
}

impl RunOutcome for ClusterRunOutcome {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn trace_hash(&self) -> u64 {
        self.trace_hash
    }
    fn violation(&self) -> Option<(u64, &str)> {
        self.violation.as_ref().map(|violation| (violation.step, violation.message.as_str()))
    }
}

/// What a world adds to the common report: its summary lines and its verdict's detail.
struct Summary {
    /// Lines printed after the run (counters), before the timing line.
    lines: Vec<String>,
    /// Work done, for the timing line (`{rate} {unit}/s`).
    work: (f64, &'static str),
    /// The PASS verdict's detail.
    pass_detail: String,
}

/// The seeds of one run and how to print them.
struct Run {
    seed_start: u64,
    seeds: u64,
    verbose: bool,
    threads: usize,
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
    let run = Run { seed_start, seeds, verbose, threads };
    match args.world {
        World::Ids => {
            let generator = generator_name(args.generator);
            println!(
                "sim: id uniqueness, generator={generator}, seeds {seed_start}..{}",
                seed_start + seeds
            );
            if args.seed.is_some() {
                println!("SEED={seed_start}");
                println!("config: {:?}", IdWorld::new(seed_start, args.generator).config());
            }
            let kind = args.generator;
            let replay = format!("--generator {generator}");
            drive(&run, &replay, |seed| IdWorld::new(seed, kind).run(), id_summary)
        }
        World::Cluster => {
            if args.seed.is_some() {
                // SEED= first, then the configuration the seed derives (STYLE.md, Simulator).
                println!("SEED={seed_start}");
                match ClusterWorld::new(seed_start) {
                    Ok(world) => println!("config: {:?}", world.config()),
                    Err(error) => println!("config: refused: {error}"),
                }
            }
            println!("sim: cluster world, seeds {seed_start}..{}", seed_start + seeds);
            drive(&run, "--world cluster", run_cluster_seed, cluster_summary)
        }
    }
}

/// The one report path: runs the seeds, prints trace hashes if verbose, the world's summary, the
/// timing line, the verdict and, on failure, the replay line.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn drive<O: RunOutcome + Send>(
    run: &Run,
    replay: &str,
    world: impl Fn(u64) -> O + Sync,
    summarize: impl FnOnce(&[O]) -> Summary,
) -> ExitCode {
    let (outcomes, elapsed_s) = run_seeds(run.seed_start, run.seeds, run.threads, |seed| {
        let outcome = world(seed);
        let failed = outcome.violation().is_some();
        (outcome, failed)
    });
    if run.verbose {
        for outcome in &outcomes {
            println!("seed {} trace-hash: {:016x}", outcome.seed(), outcome.trace_hash());
        }
    }
    let summary = summarize(&outcomes);
    for line in &summary.lines {
        println!("{line}");
    }
    let (work, unit) = summary.work;
    println!(
        "elapsed: {elapsed_s:.2} s, {:.1} seeds/s, {:.1} {unit}/s on {} threads",
        outcomes.len() as f64 / elapsed_s.max(1e-9),
        work / elapsed_s.max(1e-9),
        run.threads
    );
    let failure = outcomes.iter().find_map(|outcome| Some((outcome.seed(), outcome.violation()?)));
    match failure {
        None => {
            println!("verdict: PASS ({} seeds, {})", outcomes.len(), summary.pass_detail);
            ExitCode::SUCCESS
        }
        Some((seed, (step, message))) => {
            println!("verdict: FAIL at seed {seed} step {step}: {message}");
            println!("replay: cargo xtask sim {replay} --seed {seed}");
            ExitCode::FAILURE
        }
    }
}

/// The id world's summary line.
fn id_summary(outcomes: &[IdRunOutcome]) -> Summary {
    let mut total = IdRunStats::default();
    for outcome in outcomes {
        total.add(&outcome.stats);
    }
    let steps: Vec<String> = StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    let line = format!(
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
    Summary {
        lines: vec![line],
        work: (ids as f64 / 1e6, "M ids checked"),
        pass_detail: format!("{ids} ids checked, no duplicate"),
    }
}

/// One cluster seed; a seed whose world cannot be built fails at step 0.
fn run_cluster_seed(seed: u64) -> ClusterRunOutcome {
    match ClusterWorld::new(seed) {
        Ok(world) => world.run(),
        Err(message) => ClusterRunOutcome {
            seed,
            stats: ClusterStats::default(),
            trace_hash: 0,
            violation: Some(graphsession_sim::world::ClusterViolation { step: 0, message }),
        },
    }
}

/// The cluster world's summary lines.
fn cluster_summary(outcomes: &[ClusterRunOutcome]) -> Summary {
    let mut total = ClusterStats::default();
    for outcome in outcomes {
        total.add(&outcome.stats);
    }
    let steps: Vec<String> = graphsession_sim::world::StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    let sessions = format!(
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
    let faults = format!(
        "faults: resets={} kills={} meta_losses={} node_restarts={}; safety steps: {}",
        total.resets,
        total.kills,
        total.meta_losses,
        total.node_restarts,
        steps.join(" ")
    );
    let admin = format!(
        "admin: long_queries={} killed={} kill_session issued={} applied={} kill_query issued={} applied={} \
         grants={} uses={}",
        total.long_queries,
        total.long_queries_killed,
        total.kill_sessions_issued,
        total.kill_sessions_applied,
        total.kill_queries_issued,
        total.kill_queries_applied,
        total.grants,
        total.uses,
    );
    Summary {
        lines: vec![sessions, faults, admin],
        work: (total.steps() as f64, "steps"),
        pass_detail: format!("{} sessions checked", total.sessions_created),
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

fn generator_name(generator: Generator) -> String {
    use clap::ValueEnum;
    generator.to_possible_value().map_or_else(String::new, |value| value.get_name().to_owned())
}
