//! The id world's driver: every session and plan id any node issues must be unique.

use graphsession_sim::ids::{Generator, IdRunOutcome, IdRunStats, IdWorld, StepKind};
use graphsession_sim::property::property_of;

use crate::driver::Verdict;
use crate::driver::parallel::{Seeds, run_seeds};

#[expect(clippy::print_stdout, reason = "the driver's report is its output")]
pub(crate) fn run(seeds: Seeds, generator: Generator, verbose: bool, single: bool) -> Verdict {
    let name = generator.name();
    println!(
        "sim: id uniqueness, generator={name}, seeds {}..{}",
        seeds.start,
        seeds.start.saturating_add(seeds.count)
    );
    if single {
        println!("SEED={}", seeds.start);
        println!("config: {:?}", IdWorld::new(seeds.start, generator).config());
    }
    let ran = run_seeds(seeds, |seed| {
        let outcome: IdRunOutcome = IdWorld::new(seed, generator).run();
        let failed = outcome.violation.is_some();
        (outcome, failed)
    });
    if verbose {
        for outcome in &ran.outcomes {
            println!("seed {} trace-hash: {:016x}", outcome.seed, outcome.trace_hash);
        }
    }
    let mut total = IdRunStats::default();
    for outcome in &ran.outcomes {
        total.add(&outcome.stats);
    }
    let steps: Vec<String> = StepKind::ALL
        .iter()
        .map(|kind| format!("{}={}", kind.name(), total.steps_by_kind[*kind as usize]))
        .collect();
    println!(
        "summary: seeds={} session_ids={} plan_ids={} lease_extensions={} fenced={} backpressure={} steps: {}",
        ran.outcomes.len(),
        total.session_ids,
        total.plan_ids,
        total.lease_extensions,
        total.fenced,
        total.backpressure,
        steps.join(" ")
    );
    let ids = total.session_ids + total.plan_ids;
    let elapsed_s = ran.elapsed_s.max(1e-9);
    println!(
        "elapsed: {:.2} s, {:.1} seeds/s, {:.1} M ids checked/s on {} threads",
        ran.elapsed_s,
        ran.outcomes.len() as f64 / elapsed_s,
        ids as f64 / 1e6 / elapsed_s,
        seeds.threads
    );
    let failure =
        ran.outcomes.iter().find_map(|outcome| Some((outcome.seed, outcome.violation.as_ref()?)));
    match failure {
        None => {
            println!(
                "verdict: PASS ({} seeds, {ids} ids checked, no duplicate)",
                ran.outcomes.len()
            );
            Verdict::Pass
        }
        Some((seed, violation)) => {
            println!("verdict: FAIL at seed {seed} step {}: {}", violation.step, violation.message);
            println!("property: {}", property_of(&violation.message));
            println!("replay: cargo xtask sim --world ids --generator {name} --seed {seed}");
            Verdict::Violation(violation.message.clone())
        }
    }
}
