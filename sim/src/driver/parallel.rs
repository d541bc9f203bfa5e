//! Runs seeds on worker threads, in increasing order, with a progress bar; the reported first
//! failure is the same for any thread count.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Which seeds to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeds {
    /// The first seed.
    pub(crate) start: u64,
    /// How many at most.
    pub(crate) count: u64,
    /// Stop handing out seeds after this long (wall clock), if set.
    pub(crate) duration_s: Option<f64>,
    /// Worker threads.
    pub(crate) threads: usize,
    /// Whether to draw a progress bar (on a terminal).
    pub(crate) progress: bool,
}

/// What a run of seeds gave: outcomes in seed order (cut after the first failure), the wall
/// time, and the wall time at which the first failure was found.
pub(crate) struct Ran<O> {
    pub(crate) outcomes: Vec<O>,
    pub(crate) elapsed_s: f64,
    pub(crate) first_failure_s: Option<f64>,
}

/// Runs `run(seed)` for each seed; `run` returns the outcome and whether it failed. Seeds are
/// handed out in increasing order and workers stop taking seeds above the lowest failing one.
#[expect(
    clippy::disallowed_methods,
    reason = "the driver is the edge: it spawns the worker threads"
)]
#[expect(clippy::disallowed_types, reason = "the driver is the edge: it times the run")]
pub(crate) fn run_seeds<O: Send>(seeds: Seeds, run: impl Fn(u64) -> (O, bool) + Sync) -> Ran<O> {
    let start = std::time::Instant::now();
    let next_offset = AtomicU64::new(0);
    let lowest_failing_offset = AtomicU64::new(u64::MAX);
    let out_of_time = AtomicBool::new(false);
    let first_failure_s = Mutex::new(None::<f64>);
    let outcomes = Mutex::new(Vec::new());
    let done = AtomicU64::new(0);
    let bar = progress_bar(seeds);
    std::thread::scope(|scope| {
        for _ in 0..seeds.threads.max(1) {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    if let Some(limit_s) = seeds.duration_s {
                        if start.elapsed().as_secs_f64() >= limit_s {
                            out_of_time.store(true, Ordering::Relaxed);
                        }
                    }
                    if out_of_time.load(Ordering::Relaxed) {
                        break;
                    }
                    let offset = next_offset.fetch_add(1, Ordering::Relaxed);
                    if offset >= seeds.count
                        || offset > lowest_failing_offset.load(Ordering::Relaxed)
                    {
                        break;
                    }
                    let (outcome, failed) = run(seeds.start + offset);
                    if failed {
                        lowest_failing_offset.fetch_min(offset, Ordering::Relaxed);
                        let mut first = first_failure_s
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        first.get_or_insert(start.elapsed().as_secs_f64());
                        bar.set_message(format!("FAIL at seed {}", seeds.start + offset));
                    }
                    advance(&bar, seeds, &done, start.elapsed().as_secs_f64());
                    mine.push((offset, outcome, failed));
                }
                outcomes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(mine);
            });
        }
    });
    bar.finish_and_clear();
    let mut outcomes = outcomes.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    outcomes.sort_by_key(|(offset, _, _)| *offset);
    // Drop seeds past the first failure (whether a worker reached them depends on timing), and,
    // when time ran out, seeds past the first gap (a seed handed out but never run).
    if let Some(failing) = outcomes.iter().position(|(_, _, failed)| *failed) {
        outcomes.truncate(failing + 1);
    }
    if let Some(gap) = outcomes.iter().enumerate().position(|(index, (offset, _, _))| {
        u64::try_from(index).is_ok_and(|index| index != *offset)
    }) {
        outcomes.truncate(gap);
    }
    let first_failure_s =
        first_failure_s.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ran {
        outcomes: outcomes.into_iter().map(|(_, outcome, _)| outcome).collect(),
        elapsed_s: start.elapsed().as_secs_f64(),
        first_failure_s,
    }
}

/// A bar over the seeds, or over the time when the run is bounded by time; hidden for one seed
/// and when stderr is not a terminal (indicatif's default).
fn progress_bar(seeds: Seeds) -> ProgressBar {
    if !seeds.progress || seeds.count <= 1 {
        return ProgressBar::hidden();
    }
    let (bar, template) = match seeds.duration_s {
        Some(duration_s) => (
            // The bar's unit is a tenth of a second of the time budget.
            ProgressBar::new(tenths(duration_s)),
            "{elapsed_precise} [{bar:40}] {msg}",
        ),
        None => (
            ProgressBar::new(seeds.count),
            "{elapsed_precise} [{bar:40}] {pos}/{len} seeds ({per_sec}, eta {eta}) {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// One more seed done: a bar over seeds moves by one; a bar over time moves to the time spent
/// and says how many seeds ran (a failure's message stays).
fn advance(bar: &ProgressBar, seeds: Seeds, done: &AtomicU64, elapsed_s: f64) {
    let count = done.fetch_add(1, Ordering::Relaxed) + 1;
    let Some(duration_s) = seeds.duration_s else {
        bar.inc(1);
        return;
    };
    bar.set_position(tenths(elapsed_s.min(duration_s)));
    if !bar.message().starts_with("FAIL") {
        bar.set_message(format!("{count} seeds of a {duration_s} s run"));
    }
}

/// Seconds in tenths, for the bar.
fn tenths(seconds: f64) -> u64 {
    // Durations are positive and far below 2^53 tenths: the conversion is exact enough.
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a bar's position")]
    let tenths = (seconds * 10.0).round() as u64;
    tenths
}
