//! The cluster world's driver: runs seeds (or a replay file), checks determinism on request,
//! prints the summary and the verdict, and on failure shrinks the run and writes a replay file.

use std::process::ExitCode;

use graphsession_sim::chooser::Chooser;
use graphsession_sim::replay::{REPLAY_FORMAT, ReplayFile};
use graphsession_sim::shrink::shrink;
use graphsession_sim::world::{
    ClientKind, ClusterRunOutcome, ClusterStats, ClusterViolation, ClusterWorld, Mark, Marks,
    Options, StepKind,
};

use crate::driver::parallel::{Ran, Seeds, run_seeds};

/// Replays a shrinking may spend.
const SHRINK_REPLAYS_MAX: u32 = 4_000;

/// How the cluster world runs.
pub(crate) struct ClusterRun {
    pub(crate) seeds: Seeds,
    pub(crate) client: ClientKind,
    pub(crate) verbose: bool,
    pub(crate) trace_path: Option<String>,
    pub(crate) check_determinism: bool,
    /// Fail the run if a coverage mark was never hit.
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
pub(crate) fn run(run: &ClusterRun) -> ExitCode {
    let options = Options {
        client: run.client,
        trace: run.trace_path.is_some(),
        step_hashes: run.check_determinism,
        ..Options::default()
    };
    println!(
        "sim: cluster world, client={}, seeds {}..{}{}",
        client_name(run.client),
        run.seeds.start,
        run.seeds.start.saturating_add(run.seeds.count),
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
            return ExitCode::FAILURE;
        }
        println!("trace: {path}");
    }
    if run.verbose {
        for checked in &ran.outcomes {
            let outcome = &checked.outcome;
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
    }
    let outcomes: Vec<&ClusterRunOutcome> = ran.outcomes.iter().map(|c| &c.outcome).collect();
    let (total, marks) = summarize(&outcomes, ran.elapsed_s, run.seeds.threads);
    if let Some((seed, divergence)) =
        ran.outcomes.iter().find_map(|c| Some((c.outcome.seed, c.divergence.as_ref()?)))
    {
        println!("verdict: FAIL (nondeterminism) at seed {seed}: {divergence}");
        return ExitCode::FAILURE;
    }
    let failure = ran.outcomes.iter().find_map(|checked| {
        let outcome = &checked.outcome;
        Some((outcome.seed, outcome.violation.as_ref()?))
    });
    match failure {
        None => {
            let missed = marks.missed();
            if run.require_marks && !missed.is_empty() {
                let names: Vec<&str> = missed.iter().map(|mark| mark.name()).collect();
                println!(
                    "verdict: FAIL ({} seeds passed, but coverage marks never hit: {})",
                    outcomes.len(),
                    names.join(", ")
                );
                return ExitCode::FAILURE;
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
            ExitCode::SUCCESS
        }
        Some((seed, violation)) => {
            report_failure(run, seed, violation, outcomes.len(), ran.first_failure_s);
            ExitCode::FAILURE
        }
    }
}

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
        "summary: seeds={} steps={} (liveness {}) events={}",
        outcomes.len(),
        total.steps(),
        total.liveness_steps,
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
        "admin: long_queries={} killed={} kill_session issued={} applied={} kill_query issued={} \
         applied={} grants={} uses={}",
        total.long_queries,
        total.long_queries_killed,
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
    println!(
        "first failure: after {seeds_run} seeds, {:.2} s",
        first_failure_s.unwrap_or_default()
    );
    println!("SEED={seed}");
    if let Ok(world) =
        ClusterWorld::with_chooser(seed, Chooser::from_seed(seed), Options::default())
    {
        println!("config: {:?}", world.config());
    }
    // The failing run again, traced, for its last events.
    let options = Options { client: run.client, ..Options::default() };
    let traced = run_world(seed, Chooser::from_seed(seed), Options { trace: true, ..options });
    println!("last events:");
    let last = traced.violation.map(|violation| violation.last_events).unwrap_or_default();
    for line in &last {
        println!("  step {} at {} ms: {} {}", line.step, line.now_ms, line.kind, line.detail);
    }
    let recorded = run_world(seed, Chooser::from_seed(seed).recording(), options);
    let Some(recorded_violation) = recorded.violation.clone() else {
        println!("shrink: the recorded rerun passed; not shrunk");
        return;
    };
    // Shrink toward the same property, not any failure.
    let kind = violation_kind(&recorded_violation.message);
    let shrunk = shrink(recorded.choices.clone(), SHRINK_REPLAYS_MAX, |choices| {
        let outcome = run_world(seed, Chooser::replay(choices.to_vec()), options);
        outcome.violation.is_some_and(|violation| violation_kind(&violation.message) == kind)
    });
    let final_run = run_world(seed, Chooser::replay(shrunk.choices.clone()), options);
    let final_violation = final_run.violation.unwrap_or(recorded_violation);
    println!(
        "shrunk: {} choices -> {} choices, {} safety steps -> {}, {} events in all ({} replays): {}",
        recorded.choices.len(),
        shrunk.choices.len(),
        recorded.safety_steps,
        final_run.safety_steps,
        final_run.stats.events,
        shrunk.replays,
        final_violation.message
    );
    let file = ReplayFile {
        format: REPLAY_FORMAT.to_owned(),
        world: "cluster".to_owned(),
        client: client_name(run.client).to_owned(),
        seed,
        violation: final_violation.message,
        safety_steps: final_run.safety_steps,
        choices: shrunk.choices,
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

/// The property a violation message names: its text without numbers, up to the first colon
/// after the opening words (ids, steps and times differ between a run and its shrunk form).
pub(crate) fn violation_kind(message: &str) -> String {
    let words: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
    let cut = words.char_indices().filter(|&(_, c)| c == ':' || c == ';').nth(1);
    let head = cut.map_or(words.as_str(), |(index, _)| &words[..index]);
    head.chars().take(60).collect()
}

/// Runs a replay file verbosely; exit status 0 if it passes.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn replay(path: &str, client_override: Option<ClientKind>) -> ExitCode {
    let file = match read_file(path).and_then(|text| ReplayFile::parse(&text)) {
        Ok(file) => file,
        Err(error) => {
            println!("replay: {path}: {error}");
            return ExitCode::FAILURE;
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
            ExitCode::SUCCESS
        }
        Some(violation) => {
            println!("verdict: FAIL at step {}: {}", violation.step, violation.message);
            ExitCode::FAILURE
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
