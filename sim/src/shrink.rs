//! Shrinking a failing run: its recorded choices are cut, zeroed, lowered and raised, each
//! candidate is replayed, and the simplest list that still fails the same way is kept. Because a
//! replayed list that runs out ends the fault phase (every further choice is the simplest), a
//! shorter list is a shorter fault phase.
//!
//! "Simplest" is first the list's length, while it is long (see [`Budget::small_len`]); then
//! what a person reads: a candidate is kept when it fails the same way and its run is smaller
//! (the cluster world: fewer events in all, liveness phase included), or as small and shorter,
//! or as small, as short and with lower values. So a
//! choice may also be *raised* to the top of its range (a replayed value above a choice's range
//! is clamped to its top): a longer sync interval or idle timeout is what makes a failure of the
//! liveness phase, which runs on timers, take few events.
//!
//! Passes, repeated until a round makes no progress or the replay budget is spent: the shortest
//! failing prefix (bisection); removing each safety step's block of choices (the blocks are found
//! by replaying prefixes: a list that runs out inside step `s` runs exactly `s` safety steps);
//! removing chunks from large to single choices; zeroing runs of choices; each value lowered
//! (to 0, else by bisection) or raised to the top of its range; and the choices just past the
//! list's end raised. [`shrink_cluster`] applies this to a cluster world's run.

use crate::chooser::Chooser;
use crate::world::{ClusterRunOutcome, ClusterWorld, Options};

/// What replaying one candidate list showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trial {
    /// Whether it failed the way being shrunk.
    pub fails: bool,
    /// Its size (the cluster world: events in all); smaller is simpler.
    pub size: u64,
    /// Steps of the fault phase it ran (how step blocks are found).
    pub steps: u64,
}

/// How many replays a shrinking may spend, and when a list counts as short: a long list is
/// shrunk by its length, a short one by its run's size; a short list's replays are cheap (a
/// short fault phase), so it may spend more of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Replays while the list is longer than `small_len`.
    pub replays_max: u32,
    /// Replays in all once the list is at most `small_len` choices.
    pub replays_max_small: u32,
    /// The longest list that counts as short.
    pub small_len: usize,
}

impl Budget {
    /// The same number of replays whatever the length; every list but the empty one is long, so
    /// the run's size only decides between lists of one length.
    pub fn replays(replays_max: u32) -> Budget {
        Budget { replays_max, replays_max_small: replays_max, small_len: 0 }
    }
}

/// What shrinking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The simplest failing list of choices found.
    pub choices: Vec<u64>,
    /// Its size (see [`Trial::size`]).
    pub size: u64,
    /// Candidates replayed.
    pub replays: u32,
    /// Candidates replayed when the run's size last changed: the rest of the budget only cut
    /// the list or lowered its values (a budget of at least this many gives a run as small).
    pub replays_to_size: u32,
}

/// Shrinks `choices`, whose replay must fail, within `budget`; `replay` runs a candidate.
pub fn shrink(choices: Vec<u64>, budget: Budget, replay: impl FnMut(&[u64]) -> Trial) -> Shrunk {
    let mut shrinker = Shrinker {
        best: choices,
        best_size: u64::MAX,
        replays: 0,
        replays_to_size: 0,
        budget,
        replay,
    };
    let first = shrinker.run(&shrinker.best.clone());
    shrinker.best_size = first.map_or(u64::MAX, |trial| trial.size);
    loop {
        let before = shrinker.key();
        shrinker.shortest_prefix();
        shrinker.remove_chunks();
        // The passes that keep the length are for short lists, whose run's size now decides.
        if shrinker.is_short() {
            shrinker.remove_step_blocks();
            shrinker.zero_runs();
        }
        shrinker.simpler_values();
        if shrinker.is_short() {
            shrinker.raise_past_the_end();
        }
        if shrinker.key() >= before || shrinker.out_of_budget() {
            return Shrunk {
                choices: shrinker.best,
                size: shrinker.best_size,
                replays: shrinker.replays,
                replays_to_size: shrinker.replays_to_size,
            };
        }
    }
}

struct Shrinker<F> {
    best: Vec<u64>,
    best_size: u64,
    replays: u32,
    replays_to_size: u32,
    budget: Budget,
    replay: F,
}

/// Smaller is simpler: a long list's length first (cutting a long list is where shrinking wins
/// most, and its run's size would only hold the cuts back), then the run's size, then the
/// list's length, then its values. Lists of at most `small_len` choices tie on the first.
type Key = (usize, u64, usize, u128);

fn key_of(small_len: usize, size: u64, choices: &[u64]) -> Key {
    let len = choices.len();
    let long = if len > small_len { len } else { 0 };
    (long, size, len, choices.iter().map(|&value| u128::from(value)).sum())
}

impl<F: FnMut(&[u64]) -> Trial> Shrinker<F> {
    fn key(&self) -> Key {
        key_of(self.budget.small_len, self.best_size, &self.best)
    }

    fn is_short(&self) -> bool {
        self.best.len() <= self.budget.small_len
    }

    fn out_of_budget(&self) -> bool {
        let max =
            if self.is_short() { self.budget.replays_max_small } else { self.budget.replays_max };
        self.replays >= max
    }

    /// Replays `candidate` if the budget allows.
    fn run(&mut self, candidate: &[u64]) -> Option<Trial> {
        if self.out_of_budget() {
            return None;
        }
        self.replays += 1;
        Some((self.replay)(candidate))
    }

    /// Replays `candidate` and keeps it if it fails and is simpler; says whether it was kept.
    fn attempt(&mut self, candidate: Vec<u64>) -> bool {
        let Some(trial) = self.run(&candidate) else { return false };
        if trial.fails && key_of(self.budget.small_len, trial.size, &candidate) < self.key() {
            if trial.size != self.best_size {
                self.replays_to_size = self.replays;
            }
            self.best = candidate;
            self.best_size = trial.size;
            return true;
        }
        false
    }

    /// The shortest failing prefix, assuming (roughly) that longer prefixes fail too.
    fn shortest_prefix(&mut self) {
        let (mut low, mut high) = (0, self.best.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if self.attempt(self.best[..middle].to_vec()) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
    }

    /// Removes each safety step's block of choices, last step first (later choices depend on
    /// earlier ones), then each block is zeroed.
    fn remove_step_blocks(&mut self) {
        let starts = self.step_starts();
        for window in starts.windows(2).rev() {
            let (start, end) = (window[0], window[1]);
            if end > self.best.len() {
                continue;
            }
            let mut removed = self.best.clone();
            removed.drain(start..end);
            if !self.attempt(removed) && self.best[start..end].iter().any(|&value| value != 0) {
                let mut zeroed = self.best.clone();
                zeroed[start..end].fill(0);
                self.attempt(zeroed);
            }
        }
    }

    /// Where each safety step's choices begin, and the list's end: a prefix that runs out inside
    /// step `s` (counting from 1) runs `s` safety steps, so the starts are where the count of a
    /// prefix's steps rises. Found by bisection over prefixes whose counts differ.
    fn step_starts(&mut self) -> Vec<usize> {
        let len = self.best.len();
        let steps_at = |shrinker: &mut Self, prefix: usize| -> Option<u64> {
            let candidate = shrinker.best[..prefix].to_vec();
            shrinker.run(&candidate).map(|trial| trial.steps)
        };
        let (Some(low_steps), Some(high_steps)) = (steps_at(self, 0), steps_at(self, len)) else {
            return Vec::new();
        };
        let mut starts = Vec::new();
        // Ranges (low, high] known to hold a rise of the step count.
        let mut pending = vec![(0, low_steps, len, high_steps)];
        while let Some((low, low_steps, high, high_steps)) = pending.pop() {
            if low_steps >= high_steps {
                continue;
            }
            if high - low <= 1 {
                // The choice at `high` is the first a later step reads.
                starts.push(high);
                continue;
            }
            let middle = low + (high - low) / 2;
            let Some(middle_steps) = steps_at(self, middle) else { break };
            pending.push((low, low_steps, middle, middle_steps));
            pending.push((middle, middle_steps, high, high_steps));
        }
        starts.sort_unstable();
        starts.dedup();
        starts.push(len);
        starts
    }

    /// Removes chunks, largest first, from the end (later choices depend on earlier ones).
    fn remove_chunks(&mut self) {
        let mut size = (self.best.len() / 2).max(1);
        loop {
            let mut start = self.best.len().saturating_sub(size);
            loop {
                if start + size <= self.best.len() {
                    let mut candidate = self.best.clone();
                    candidate.drain(start..start + size);
                    self.attempt(candidate);
                }
                if start == 0 {
                    break;
                }
                start = start.saturating_sub(size);
            }
            if size == 1 || self.out_of_budget() {
                return;
            }
            size /= 2;
        }
    }

    /// Sets runs of choices to 0 (their simplest values) without moving later choices, largest
    /// runs first; single values are [`simpler_values`](Self::simpler_values)' work.
    fn zero_runs(&mut self) {
        let mut size = self.best.len() / 2;
        while size >= 2 && !self.out_of_budget() {
            let mut start = 0;
            while start + size <= self.best.len() {
                if self.best[start..start + size].iter().any(|&value| value != 0) {
                    let mut candidate = self.best.clone();
                    candidate[start..start + size].fill(0);
                    self.attempt(candidate);
                }
                start += size;
            }
            size /= 2;
        }
    }

    /// Each value lowered as far as a simpler failing run allows, or else, in a short list,
    /// raised to the top of its range (a replayed value above a choice's range is clamped to its
    /// top).
    fn simpler_values(&mut self) {
        for index in 0..self.best.len() {
            if index >= self.best.len() || self.out_of_budget() {
                return;
            }
            let value = self.best[index];
            if value != 0 && self.lower(index, value) {
                continue;
            }
            // Raising can only pay for a short list, judged by its run's size.
            if self.is_short() && value != u64::MAX {
                self.attempt(self.with(index, u64::MAX));
            }
        }
    }

    /// Lowers the value at `index` from `value`: 0 if that is kept, else by bisection between
    /// 0 and `value` (assuming, roughly, that a value that is kept keeps the ones above it).
    /// Says whether it was lowered.
    fn lower(&mut self, index: usize, value: u64) -> bool {
        if self.attempt(self.with(index, 0)) {
            return true;
        }
        let (mut low, mut high) = (0, value);
        while high - low > 1 && !self.out_of_budget() {
            let middle = low + (high - low) / 2;
            if self.attempt(self.with(index, middle)) {
                high = middle;
            } else {
                low = middle;
            }
        }
        high < value
    }

    /// The best list with the value at `index` replaced.
    fn with(&self, index: usize, value: u64) -> Vec<u64> {
        let mut candidate = self.best.clone();
        candidate[index] = value;
        candidate
    }

    /// A list cut short reads its simplest values past its end (a cluster world: its simplest
    /// configuration, the quickest timers); each of those choices is tried at the top of its
    /// range, the zeros before it written out.
    fn raise_past_the_end(&mut self) {
        let len = self.best.len();
        for index in len..len + PAST_THE_END_MAX {
            if self.out_of_budget() {
                return;
            }
            let mut candidate = self.best.clone();
            if candidate.len() <= index {
                candidate.resize(index + 1, 0);
            }
            candidate[index] = u64::MAX;
            self.attempt(candidate);
        }
    }
}

/// How far past a list's end [`Shrinker::raise_past_the_end`] reaches: about a cluster world's
/// configuration, which a list cut short leaves at its simplest values.
const PAST_THE_END_MAX: usize = 48;

/// A cluster world's failure, shrunk.
#[derive(Debug, Clone)]
pub struct ShrunkRun {
    /// The choices of the recorded (unshrunk) run.
    pub recorded_choices: usize,
    /// Safety steps of the recorded run.
    pub recorded_safety_steps: u64,
    /// Events in all of the recorded run.
    pub recorded_events: u64,
    /// The shrunk list and how many replays it took.
    pub shrunk: Shrunk,
    /// The shrunk list's run.
    pub outcome: ClusterRunOutcome,
}

/// Replays one list of choices in the cluster world; a world that cannot be built is `None`.
pub fn replay_cluster(seed: u64, choices: Vec<u64>, options: Options) -> Option<ClusterRunOutcome> {
    ClusterWorld::with_chooser(seed, Chooser::replay(choices), options).ok().map(ClusterWorld::run)
}

/// Shrinks seed `seed`'s failure in the cluster world toward a failure of the same `kind`
/// (see [`same_kind`]); `None` if the recorded rerun passes.
pub fn shrink_cluster(
    seed: u64,
    options: Options,
    budget: Budget,
    kind: &str,
) -> Option<ShrunkRun> {
    let recording = Chooser::from_seed(seed).recording();
    let recorded = ClusterWorld::with_chooser(seed, recording, options).ok()?.run();
    recorded.violation.as_ref()?;
    let shrunk = shrink(recorded.choices.clone(), budget, |choices| {
        match replay_cluster(seed, choices.to_vec(), options) {
            Some(outcome) => Trial {
                fails: outcome.violation.as_ref().is_some_and(|v| same_kind(&v.message, kind)),
                size: outcome.stats.events,
                steps: outcome.safety_steps,
            },
            None => Trial { fails: false, size: u64::MAX, steps: 0 },
        }
    });
    let outcome = replay_cluster(seed, shrunk.choices.clone(), options)?;
    Some(ShrunkRun {
        recorded_choices: recorded.choices.len(),
        recorded_safety_steps: recorded.safety_steps,
        recorded_events: recorded.stats.events,
        shrunk,
        outcome,
    })
}

/// Whether `message` names the same failure as `kind`, a [`violation_kind`].
pub fn same_kind(message: &str, kind: &str) -> bool {
    violation_kind(message) == kind
}

/// The failure a violation message names, for shrinking toward the same one: its text without
/// numbers, up to the second colon or semicolon (ids, steps and times differ between a run and
/// its shrunk form).
pub fn violation_kind(message: &str) -> String {
    let words: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
    let cut = words.char_indices().filter(|&(_, c)| c == ':' || c == ';').nth(1);
    let head = cut.map_or(words.as_str(), |(index, _)| &words[..index]);
    head.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trial whose size is the list's length: shrinking only by the list.
    fn by_length(fails: bool, choices: &[u64]) -> Trial {
        let len = u64::try_from(choices.len()).unwrap_or(u64::MAX);
        Trial { fails, size: len, steps: len }
    }

    #[test]
    fn finds_the_two_choices_that_matter() {
        // Fails when some 7 is followed later by some value above 100.
        let fails = |choices: &[u64]| {
            choices
                .iter()
                .position(|&value| value == 7)
                .is_some_and(|seven| choices[seven..].iter().any(|&value| value > 100))
        };
        let original: Vec<u64> = (0..500).map(|index| (index * 37) % 211).collect();
        assert!(fails(&original));
        let shrunk =
            shrink(original, Budget::replays(10_000), |choices| by_length(fails(choices), choices));
        assert!(fails(&shrunk.choices));
        assert_eq!(shrunk.choices.len(), 2, "{:?}", shrunk.choices);
        assert_eq!(shrunk.choices[0], 7);
        assert!(shrunk.choices[1] > 100 && shrunk.choices[1] <= 202);
    }

    #[test]
    fn respects_the_replay_budget() {
        let mut calls = 0;
        let shrunk = shrink(vec![5; 1000], Budget::replays(10), |choices| {
            calls += 1;
            by_length(true, choices)
        });
        assert_eq!(calls, 10);
        assert_eq!(shrunk.replays, 10);
    }

    #[test]
    fn a_short_list_gets_the_larger_budget() {
        let budget = Budget { replays_max: 5, replays_max_small: 50, small_len: 4 };
        let mut calls = 0_u32;
        let shrunk = shrink(vec![9; 3], budget, |choices| {
            calls += 1;
            // Fails only as it is: nothing simpler is found, so every pass spends replays.
            Trial { fails: choices == [9, 9, 9], size: 1, steps: 1 }
        });
        assert!(calls > 5, "{calls} replays");
        assert_eq!(shrunk.choices, vec![9, 9, 9]);
    }

    /// A run's size comes first: a value raised to the top of its range is kept when it makes
    /// the failing run smaller (a longer timer: fewer rounds before the failure).
    #[test]
    fn raises_a_value_when_that_makes_the_run_smaller() {
        // The second choice is a timer's period in 1..=100 (0 past the list's end); the run has
        // 1,000 / period events.
        let replay = |choices: &[u64]| {
            let period = choices.get(1).copied().unwrap_or(0).clamp(1, 100);
            let fails = choices.first() == Some(&3);
            Trial { fails, size: 1_000 / period, steps: 1 }
        };
        let short = Budget { replays_max: 1_000, replays_max_small: 1_000, small_len: 8 };
        // A value in the list, and one past its end.
        for original in [vec![3, 40], vec![3]] {
            let shrunk = shrink(original.clone(), short, replay);
            assert_eq!(shrunk.size, 10, "{original:?}");
            assert_eq!(shrunk.choices[0], 3);
            // Raised to the top, then lowered as far as the size allows (1,000 / 91 is 10).
            assert_eq!(shrunk.choices[1], 91, "{:?}", shrunk.choices);
        }
        // A long list is judged by its length alone: the period is cut, whatever the size.
        let long = shrink(vec![3, 40], Budget::replays(1_000), replay);
        assert_eq!(long.choices, vec![3]);
    }

    /// Each step's block of choices is found by replaying prefixes, with as many replays as
    /// a bisection needs; a list of such steps shrinks to the one step that fails.
    #[test]
    fn finds_each_steps_block_and_keeps_the_failing_step() {
        // Each step: [n, n values]; the run fails if some step's values contain a 5. As in a
        // world, the step that finds the list run out still runs (on simplest values).
        let parse = |choices: &[u64]| -> (bool, u64) {
            let (mut index, mut steps, mut fails) = (0, 1, false);
            while index < choices.len() {
                let count = usize::try_from(choices[index].min(3)).unwrap_or(0);
                let end = (index + 1 + count).min(choices.len());
                fails |= choices[index + 1..end].contains(&5);
                steps += u64::from(end == index + 1 + count);
                index = end;
            }
            (fails, steps)
        };
        let replay = |choices: &[u64]| {
            let (fails, steps) = parse(choices);
            Trial { fails, size: steps, steps }
        };
        let original = vec![2, 1, 1, 3, 2, 5, 2, 1, 2, 4, 2];
        let mut shrinker = Shrinker {
            best: original.clone(),
            best_size: u64::MAX,
            replays: 0,
            replays_to_size: 0,
            budget: Budget::replays(1_000),
            replay,
        };
        assert_eq!(shrinker.step_starts(), vec![3, 7, 9, 11]);
        assert!(shrinker.replays <= 12, "{} replays", shrinker.replays);
        let shrunk = shrink(original, Budget::replays(1_000), replay);
        assert!(parse(&shrunk.choices).0);
        assert_eq!(parse(&shrunk.choices).1, 1, "{:?}", shrunk.choices);
    }
}
