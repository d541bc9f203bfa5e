//! The cluster world's driver: runs seeds (or a replay file), checks determinism on request,
//! prints the summary and the verdict, and on failure shrinks the run and writes a replay file.

use graphsession_sim::chooser::Chooser;
use graphsession_sim::ids::Generator;
use graphsession_sim::property::property_of;
use graphsession_sim::replay::{REPLAY_FORMAT, ReplayFile};
use graphsession_sim::shrink::{Budget, shrink_cluster, violation_kind};
use graphsession_sim::world::{
    ClientKind, ClusterRunOutcome, ClusterStats, ClusterViolation, ClusterWorld, Mark, Marks,
    Options, StepKind,
};

use crate::driver::Verdict;
use crate::driver::parallel::{Ran, Seeds, run_seeds};

/// Replays a shrinking may spend: 4,000 on a long list (a whole fault phase each, about a
/// millisecond), 20,000 in all once the list is at most 200 choices (a short fault phase and the
/// liveness phase, tens of microseconds): a few seconds at most.
const SHRINK_BUDGET: Budget =
    Budget { replays_max: 4_000, replays_max_small: 20_000, small_len: 200 };

/// How the cluster world runs.
pub(crate) struct ClusterRun {
    pub(crate) seeds: Seeds,
    pub(crate) client: ClientKind,
    /// The id generator the nodes run (the world honours it where it can).
    pub(crate) generator: Generator,
    pub(crate) verbose: bool,
    pub(crate) trace_path: Option<String>,
    pub(crate) check_determinism: bool,
    /// Fail the run if a coverage mark was never hit in at least 1,000 seeds.
    pub(crate) require_marks: bool,
    /// Where a shrunk failure is written.
    pub(crate) failure_dir: String,
}

fn client_name(client: ClientKind) -> &'static str {
    match client {
        ClientKind::Ours => "ours",
        ClientKind::Legacy => "legacy",
        ClientKind::LegacyCloseCancelsReconnect => "legacy-close-cancels-reconnect",
    }
}

/// One seed's run; a world that cannot be built fails at step 0.
fn run_world(seed: u64, choose: Chooser, options: Options) -> ClusterRunOutcome {
    match ClusterWorld::with_chooser(seed, choose, options) {
        Ok(world) => world.run(),
        Err(message) => ClusterRunOutcome {
            seed,
            stats: ClusterStats::default(),
            marks: Marks::default(),
            trace_hash: 0,
            violation: Some(ClusterViolation { step: 0, message, last_events: Vec::new() }),
            safety_steps: 0,
            choices: Vec::new(),
            trace: Vec::new(),
            step_hashes: Vec::new(),
        },
    }
}

/// The outcome of one seed, and with `check_determinism` the first step at which a second run
/// of it diverged.
struct Checked {
    outcome: ClusterRunOutcome,
    divergence: Option<String>,
}

#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn run(run: &ClusterRun) -> Verdict {
    let options = Options {
        client: run.client,
        generator: run.generator,
        trace: run.trace_path.is_some(),
        step_hashes: run.check_determinism,
        ..Options::default()
    };
    let seeds_text = match run.seeds.duration_s {
        Some(duration_s) => format!("seeds from {} for {duration_s} s", run.seeds.start),
        None => format!(
            "seeds {}..{}",
            run.seeds.start,
            run.seeds.start.saturating_add(run.seeds.count)
        ),
    };
    println!(
        "sim: cluster world, client={}, generator={}, {seeds_text}{}",
        client_name(run.client),
        run.generator.name(),
        if run.check_determinism { ", every seed run twice" } else { "" }
    );
    let ran: Ran<Checked> = run_seeds(run.seeds, |seed| {
        let outcome = run_world(seed, Chooser::from_seed(seed), options);
        let divergence = if run.check_determinism {
            let again = run_world(seed, Chooser::from_seed(seed), options);
            first_divergence(&outcome, &again)
        } else {
            None
        };
        let failed = outcome.violation.is_some() || divergence.is_some();
        (Checked { outcome, divergence }, failed)
    });
    if let Some(path) = &run.trace_path {
        if let Err(error) = write_trace(path, &ran.outcomes) {
            println!("trace: could not write {path}: {error}");
            return Verdict::Error;
        }
        println!("trace: {path}");
    }
    if run.verbose {
        for checked in &ran.outcomes {
            let outcome = &checked.outcome;
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
    }
    verdict(run, &ran)
}

/// Prints the summary and the verdict of a run of seeds; shrinks a failure.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn verdict(run: &ClusterRun, ran: &Ran<Checked>) -> Verdict {
    let outcomes: Vec<&ClusterRunOutcome> = ran.outcomes.iter().map(|c| &c.outcome).collect();
    let (total, marks) = summarize(&outcomes, ran.elapsed_s, run.seeds.threads);
    if let Some((seed, divergence)) =
        ran.outcomes.iter().find_map(|c| Some((c.outcome.seed, c.divergence.as_ref()?)))
    {
        println!("verdict: FAIL (nondeterminism) at seed {seed}: {divergence}");
        return Verdict::Error;
    }
    let failure =
        outcomes.iter().find_map(|outcome| Some((outcome.seed, outcome.violation.as_ref()?)));
    if let Some((seed, violation)) = failure {
        report_failure(run, seed, violation, outcomes.len(), ran.first_failure_s);
        return Verdict::Violation(violation.message.clone());
    }
    let missed = marks.missed();
    if run.require_marks && outcomes.len() >= MARKS_SEEDS_MIN && !missed.is_empty() {
        let names: Vec<&str> = missed.iter().map(|mark| mark.name()).collect();
        println!(
            "verdict: FAIL ({} seeds passed, but coverage marks never hit: {})",
            outcomes.len(),
            names.join(", ")
        );
        return Verdict::Error;
    }
    if run.check_determinism {
        println!("determinism: every seed ran twice with the same trace");
    }
    println!(
        "verdict: PASS ({} seeds, {} sessions checked, {} leaked)",
        outcomes.len(),
        total.sessions_created,
        total.leaked
    );
    Verdict::Pass
}

/// Seeds a run must reach before a coverage mark never hit fails it: coverage is a property of
/// a default-sized run, not of a few seeds.
const MARKS_SEEDS_MIN: usize = 1_000;

/// The first step at which two runs of one seed differ, if any.
fn first_divergence(first: &ClusterRunOutcome, second: &ClusterRunOutcome) -> Option<String> {
    let steps = first.step_hashes.iter().zip(&second.step_hashes);
    if let Some(step) = steps.clone().position(|(one, two)| one != two) {
        return Some(format!("the second run diverged at safety step {}", step + 1));
    }
    if first.trace_hash != second.trace_hash || first.violation != second.violation {
        return Some(format!(
            "the runs agree step by step but end differently (trace-hash {:016x} vs {:016x})",
            first.trace_hash, second.trace_hash
        ));
    }
    None
}

/// Prints the summary lines; returns the totals and the marks.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn summarize(
    outcomes: &[&ClusterRunOutcome],
    elapsed_s: f64,
    threads: usize,
) -> (ClusterStats, Marks) {
    let mut total = ClusterStats::default();
    let mut marks = Marks::default();
    for outcome in outcomes {
        total.add(&outcome.stats);
        marks.add(&outcome.marks);
    }
    let steps: Vec<String> = StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    println!(
        "summary: seeds={} steps={} (liveness {}, recovery retried as busy {}) events={}",
        outcomes.len(),
        total.steps(),
        total.liveness_steps,
        total.recovery_busy_retries,
        total.events
    );
    println!(
        "sessions: created={} signed_out={} expired={} ended_other={} leaked={} pick_ups={} \
         queries={}; clients: ready={} results={} failed={} abandoned={} zombies={}",
        total.sessions_created,
        total.sessions_signed_out,
        total.sessions_expired,
        total.sessions_ended_other,
        total.leaked,
        total.pick_ups,
        total.queries,
        total.client_ready,
        total.client_results,
        total.client_failed,
        total.client_leaked,
        total.client_zombies,
    );
    println!(
        "faults: resets={} client_kills={} node_restarts={} partitions={} clock_steps={} \
         meta_losses={} meta_duplicates={} meta_reorders={} meta_crashes={}",
        total.resets,
        total.kills,
        total.node_restarts,
        total.partitions,
        total.clock_steps,
        total.meta_losses,
        total.meta_duplicates,
        total.meta_reorders,
        total.meta_crashes,
    );
    println!(
        "admin: long_queries={} killed={} timed_out={} kill_session issued={} applied={} \
         kill_query issued={} applied={} grants={} uses={}",
        total.long_queries,
        total.long_queries_killed,
        total.long_queries_timed_out,
        total.kill_sessions_issued,
        total.kill_sessions_applied,
        total.kill_queries_issued,
        total.kill_queries_applied,
        total.grants,
        total.uses,
    );
    println!("safety steps: {}", steps.join(" "));
    let hit: Vec<String> =
        Mark::ALL.iter().map(|mark| format!("{}={}", mark.name(), marks.count(*mark))).collect();
    println!(
        "marks: {}/{} hit: {}",
        Mark::ALL.len() - marks.missed().len(),
        Mark::ALL.len(),
        hit.join(" ")
    );
    let per_s = |count: u64| count as f64 / elapsed_s.max(1e-9);
    let threads_f = threads.max(1) as f64;
    println!(
        "elapsed: {elapsed_s:.2} s on {threads} threads: {:.1} seeds/s, {:.0} steps/s, {:.0} events/s \
         ({:.0} events/s per core)",
        per_s(u64::try_from(outcomes.len()).unwrap_or(0)),
        per_s(total.steps()),
        per_s(total.events),
        per_s(total.events) / threads_f,
    );
    (total, marks)
}

/// Prints the failure, shrinks it, writes the replay file and the replay command.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn report_failure(
    run: &ClusterRun,
    seed: u64,
    violation: &ClusterViolation,
    seeds_run: usize,
    first_failure_s: Option<f64>,
) {
    println!("verdict: FAIL at seed {seed} step {}: {}", violation.step, violation.message);
    println!("property: {}", property_of(&violation.message));
    println!(
        "first failure: after {seeds_run} seeds, {:.2} s",
        first_failure_s.unwrap_or_default()
    );
    println!("SEED={seed}");
    let options = Options { client: run.client, generator: run.generator, ..Options::default() };
    if let Ok(world) = ClusterWorld::with_chooser(seed, Chooser::from_seed(seed), options) {
        println!("config: {:?}", world.config());
    }
    // The failing run again, traced, for its last events.
    let traced = run_world(seed, Chooser::from_seed(seed), Options { trace: true, ..options });
    println!("last events:");
    let last = traced.violation.map(|violation| violation.last_events).unwrap_or_default();
    for line in &last {
        println!("  step {} at {} ms: {} {}", line.step, line.now_ms, line.kind, line.detail);
    }
    // Shrink toward the same failure, not any failure.
    let kind = violation_kind(&violation.message);
    let Some(shrunk) = shrink_cluster(seed, options, SHRINK_BUDGET, &kind) else {
        println!("shrink: the recorded rerun passed; not shrunk");
        return;
    };
    let final_message = shrunk
        .outcome
        .violation
        .as_ref()
        .map_or_else(|| violation.message.clone(), |shrunk| shrunk.message.clone());
    println!(
        "shrunk: {} choices -> {}, {} safety steps -> {}, {} events -> {} events in all \
         ({} replays): {final_message}",
        shrunk.recorded_choices,
        shrunk.shrunk.choices.len(),
        shrunk.recorded_safety_steps,
        shrunk.outcome.safety_steps,
        shrunk.recorded_events,
        shrunk.outcome.stats.events,
        shrunk.shrunk.replays,
    );
    let file = ReplayFile {
        format: REPLAY_FORMAT.to_owned(),
        world: "cluster".to_owned(),
        client: client_name(run.client).to_owned(),
        seed,
        violation: final_message,
        safety_steps: shrunk.outcome.safety_steps,
        choices: shrunk.shrunk.choices,
    };
    let path = format!("{}/cluster-{}-seed-{seed}.json", run.failure_dir, client_name(run.client));
    match write_file(&path, &file.to_text()) {
        Ok(()) => {
            println!("replay file: {path}");
            println!("replay: cargo xtask sim --replay {path}");
        }
        Err(error) => println!("replay file: could not write {path}: {error}"),
    }
    println!(
        "replay seed: cargo xtask sim --seed {seed}{}",
        if run.client == ClientKind::Legacy { " --client legacy" } else { "" }
    );
}

/// Runs a replay file verbosely.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn replay(path: &str, client_override: Option<ClientKind>) -> Verdict {
    let file = match read_file(path).and_then(|text| ReplayFile::parse(&text)) {
        Ok(file) => file,
        Err(error) => {
            println!("replay: {path}: {error}");
            return Verdict::Error;
        }
    };
    let client = client_override.unwrap_or(match file.client.as_str() {
        "legacy" => ClientKind::Legacy,
        _ => ClientKind::Ours,
    });
    println!(
        "sim: replay of {path}: cluster world, client={}, seed {} ({} choices)",
        client_name(client),
        file.seed,
        file.choices.len()
    );
    println!("recorded violation: {}", file.violation);
    let options = Options { client, trace: true, ..Options::default() };
    let outcome = run_world(file.seed, Chooser::replay(file.choices), options);
    // A long trace: its beginning and its end (the failure is at the end).
    let lines = outcome.trace.len();
    for (index, line) in outcome.trace.iter().enumerate() {
        if lines > 400 && index == 100 {
            println!("  ... {} steps ...", lines - 400);
        }
        if lines <= 400 || index < 100 || index >= lines - 300 {
            println!("  step {} at {} ms: {} {}", line.step, line.now_ms, line.kind, line.detail);
        }
    }
    println!("seed {} trace-hash: {:016x}", file.seed, outcome.trace_hash);
    println!("safety steps: {}, events in all: {}", outcome.safety_steps, outcome.stats.events);
    match outcome.violation {
        None => {
            println!("verdict: PASS (the replay no longer fails)");
            Verdict::Pass
        }
        Some(violation) => {
            println!("verdict: FAIL at step {}: {}", violation.step, violation.message);
            println!("property: {}", property_of(&violation.message));
            Verdict::Violation(violation.message)
        }
    }
}

/// Prints the seed's configuration first (`SEED=` and what the seed derives).
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn print_config(seed: u64) {
    println!("SEED={seed}");
    match ClusterWorld::with_chooser(seed, Chooser::from_seed(seed), Options::default()) {
        Ok(world) => println!("config: {:?}", world.config()),
        Err(error) => println!("config: refused: {error}"),
    }
}

#[expect(clippy::disallowed_methods, reason = "the driver is the edge: it writes files")]
fn write_file(path: &str, text: &str) -> std::io::Result<()> {
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

#[expect(clippy::disallowed_methods, reason = "the driver is the edge: it reads files")]
fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| error.to_string())
}

/// Writes every traced line as JSON Lines.
fn write_trace(path: &str, outcomes: &[Checked]) -> std::io::Result<()> {
    let mut text = String::new();
    for checked in outcomes {
        for line in &checked.outcome.trace {
            text.push_str(&serde_json::to_string(line).unwrap_or_default());
            text.push('\n');
        }
    }
    write_file(path, &text)
}
