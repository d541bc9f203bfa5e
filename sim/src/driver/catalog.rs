//! The catalog world's driver: processes sharing users and roles through a fenced register must
//! lose no acknowledged change and use no uncommitted one.

use graphsession_sim::catalog::{CatalogRunOutcome, CatalogStats, CatalogWorld, Mark, StepKind};
use graphsession_sim::property::property_of;

use crate::driver::Verdict;
use crate::driver::parallel::{Seeds, run_seeds};

/// Seeds a run must reach before a coverage mark never hit fails it.
const MARKS_SEEDS_MIN: usize = 1_000;

#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn run(seeds: Seeds, verbose: bool, single: bool) -> Verdict {
    println!(
        "sim: shared catalog, seeds {}..{}",
        seeds.start,
        seeds.start.saturating_add(seeds.count)
    );
    if single {
        println!("SEED={}", seeds.start);
        println!("config: {:?}", CatalogWorld::new(seeds.start).config());
    }
    let ran = run_seeds(seeds, |seed| {
        let outcome: CatalogRunOutcome = CatalogWorld::new(seed).run();
        let failed = outcome.violation.is_some();
        (outcome, failed)
    });
    if verbose {
        for outcome in &ran.outcomes {
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
    }
    let missed = summarize(&ran.outcomes, ran.elapsed_s, seeds.threads);
    let failure =
        ran.outcomes.iter().find_map(|outcome| Some((outcome.seed, outcome.violation.as_ref()?)));
    if let Some((seed, violation)) = failure {
        println!("verdict: FAIL at seed {seed} step {}: {}", violation.step, violation.message);
        println!("property: {}", property_of(&violation.message));
        println!("replay: cargo xtask sim --world catalog --seed {seed}");
        return Verdict::Violation(violation.message.clone());
    }
    if !single && ran.outcomes.len() >= MARKS_SEEDS_MIN && !missed.is_empty() {
        println!(
            "verdict: FAIL ({} seeds passed, but coverage marks never hit: {})",
            ran.outcomes.len(),
            missed.join(", ")
        );
        return Verdict::Error;
    }
    println!(
        "verdict: PASS ({} seeds, {} turns, no lost update, no uncommitted use)",
        ran.outcomes.len(),
        ran.outcomes.iter().map(|outcome| outcome.stats.turns).sum::<u64>()
    );
    Verdict::Pass
}

/// Prints the summary lines; returns the marks never hit.
#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
fn summarize(outcomes: &[CatalogRunOutcome], elapsed_s: f64, threads: usize) -> Vec<&'static str> {
    let mut total = CatalogStats::default();
    for outcome in outcomes {
        total.add(&outcome.stats);
    }
    let steps: Vec<String> = StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    println!(
        "summary: seeds={} statements={} turns={} uses={} liveness_steps={}",
        outcomes.len(),
        total.statements,
        total.turns,
        total.uses,
        total.liveness_steps
    );
    println!(
        "answers: replied={} failed={} refused={} closed={}",
        total.replied, total.failed, total.refused, total.closed
    );
    println!("safety steps: {}", steps.join(" "));
    let missed: Vec<&'static str> =
        Mark::ALL.iter().filter(|mark| total.mark(**mark) == 0).map(|mark| mark.name()).collect();
    let hit: Vec<String> =
        Mark::ALL.iter().map(|mark| format!("{}={}", mark.name(), total.mark(*mark))).collect();
    println!(
        "marks: {}/{} hit: {}",
        Mark::ALL.len() - missed.len(),
        Mark::ALL.len(),
        hit.join(" ")
    );
    let elapsed_s = elapsed_s.max(1e-9);
    println!(
        "elapsed: {:.2} s, {:.1} seeds/s, {:.0} turns/s on {} threads",
        elapsed_s,
        outcomes.len() as f64 / elapsed_s,
        total.turns as f64 / elapsed_s,
        threads
    );
    missed
}
