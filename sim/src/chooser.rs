//! The one source of choices: every random decision of a world goes through a [`Chooser`].
//!
//! A chooser draws from the seed's [`Prng`], from a recorded list of choices (a replay), or from
//! raw bytes (a fuzzer's input). Each choice is recorded as the value it produced, a number whose
//! smallest value is the simplest choice (0: the first option, `false`, the lower bound). That makes
//! a failing run a list of numbers that can be replayed exactly and shrunk: drop some, lower some,
//! replay, keep what still fails. A replayed list that runs out answers every further choice with
//! its simplest value and says it is [exhausted](Chooser::is_exhausted), which the world takes as the
//! end of its fault phase.

use crate::prng::Prng;

/// Where choices come from.
#[derive(Debug, Clone)]
enum Source {
    /// The seed's generator.
    Prng(Prng),
    /// A recorded list, in order.
    Replay { choices: Vec<u64>, next: usize },
    /// A fuzzer's bytes, read as little-endian numbers just wide enough for each choice.
    Bytes { data: Vec<u8>, next: usize },
}

/// Every random decision of a run, from one source, optionally recorded.
#[derive(Debug, Clone)]
pub struct Chooser {
    source: Source,
    /// The choices made so far, if recording.
    recorded: Option<Vec<u64>>,
    /// Choices made so far.
    made: u64,
    /// Whether a replay or byte source ran out (every choice since was the simplest).
    exhausted: bool,
}

impl Chooser {
    /// Choices from the seed's generator.
    pub fn from_seed(seed: u64) -> Chooser {
        Chooser::new(Source::Prng(Prng::from_seed(seed)))
    }

    /// Choices from a recorded list (see [`recorded`](Chooser::recorded)).
    pub fn replay(choices: Vec<u64>) -> Chooser {
        Chooser::new(Source::Replay { choices, next: 0 })
    }

    /// Choices from raw bytes, for a fuzzer: each choice reads as few bytes as its range needs.
    pub fn from_bytes(data: &[u8]) -> Chooser {
        Chooser::new(Source::Bytes { data: data.to_vec(), next: 0 })
    }

    fn new(source: Source) -> Chooser {
        Chooser { source, recorded: None, made: 0, exhausted: false }
    }

    /// Starts recording every choice from now on.
    #[must_use]
    pub fn recording(mut self) -> Chooser {
        self.recorded = Some(Vec::new());
        self
    }

    /// The choices recorded so far (empty unless [`recording`](Chooser::recording)).
    pub fn recorded(&self) -> &[u64] {
        self.recorded.as_deref().unwrap_or(&[])
    }

    /// Whether a replay or byte source ran out.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Choices made so far.
    pub fn made(&self) -> u64 {
        self.made
    }

    /// A value in `0..n` (0 when `n` is 0). Replayed values above the range are clamped to its top.
    pub fn below(&mut self, n: u64) -> u64 {
        let value = match &mut self.source {
            Source::Prng(prng) => prng.below(n),
            Source::Replay { choices, next } => match choices.get(*next) {
                Some(&value) => {
                    *next += 1;
                    value.min(n.saturating_sub(1))
                }
                None => {
                    self.exhausted = true;
                    0
                }
            },
            Source::Bytes { data, next } => {
                let width = bytes_for(n.saturating_sub(1));
                match data.get(*next..*next + width) {
                    Some(bytes) => {
                        *next += width;
                        let value =
                            bytes.iter().rev().fold(0_u64, |acc, &byte| acc << 8 | u64::from(byte));
                        if n == 0 { 0 } else { value % n }
                    }
                    None => {
                        self.exhausted = true;
                        0
                    }
                }
            }
        };
        self.note(value);
        value
    }

    /// Any 64-bit value (seeds of sub-generators, keys). Its simplest value is 0.
    pub fn any_u64(&mut self) -> u64 {
        match &mut self.source {
            Source::Prng(prng) => {
                let value = prng.next_u64();
                self.note(value);
                value
            }
            Source::Replay { .. } | Source::Bytes { .. } => self.below(u64::MAX),
        }
    }

    /// A value in `low..=high` (`low` when the range is empty); its simplest value is `low`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// True with probability `numerator / denominator`; its simplest value is `false`. A certain
    /// outcome (`numerator` 0, or at least `denominator`) is no choice and draws nothing.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        if numerator == 0 || numerator >= denominator {
            return numerator > 0;
        }
        match &mut self.source {
            Source::Prng(prng) => {
                let value = prng.chance(numerator, denominator);
                self.note(u64::from(value));
                value
            }
            // Replayed and fuzzed choices are the outcome itself, so that 0 means "no".
            Source::Replay { .. } | Source::Bytes { .. } => self.below(2) == 1,
        }
    }

    /// An index into `weights`, each chosen with probability proportional to its weight. Zero
    /// weights are never chosen (a replayed index with weight 0 moves to the first index with
    /// weight); all-zero weights choose index 0.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let index = match &mut self.source {
            Source::Prng(prng) => prng.weighted(weights),
            Source::Replay { .. } | Source::Bytes { .. } => {
                let count = u64::try_from(weights.len()).unwrap_or(u64::MAX);
                let picked = usize::try_from(self.below_unrecorded(count)).unwrap_or(0);
                if weights.get(picked).is_some_and(|&weight| weight > 0) {
                    picked
                } else {
                    weights.iter().position(|&weight| weight > 0).unwrap_or(0)
                }
            }
        };
        self.note(u64::try_from(index).unwrap_or(0));
        index
    }

    /// [`weighted`](Chooser::weighted) over the table's weights: the same index, the same
    /// recorded choice, without summing the weights at every draw (the world draws its step kind
    /// this way at every step).
    pub fn weighted_table(&mut self, table: &WeightTable) -> usize {
        let Source::Prng(prng) = &mut self.source else {
            return self.weighted(&table.weights);
        };
        let pick = prng.below(table.total);
        // The first index whose running sum exceeds the pick: as many as the sums not above it
        // (they never decrease). Counting has no chain of dependent loads, unlike a search.
        let index = table.cumulative.iter().filter(|&&sum| sum <= pick).count();
        let index = if index < table.cumulative.len() { index } else { 0 };
        self.note(u64::try_from(index).unwrap_or(0));
        index
    }

    /// An index in `0..len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        let value = self.below(u64::try_from(len).unwrap_or(u64::MAX));
        usize::try_from(value).unwrap_or(0)
    }

    /// [`below`](Chooser::below) without recording (the caller records what it derives).
    fn below_unrecorded(&mut self, n: u64) -> u64 {
        let value = self.below(n);
        self.made -= 1;
        if let Some(recorded) = &mut self.recorded {
            recorded.pop();
        }
        value
    }

    fn note(&mut self, value: u64) {
        self.made += 1;
        if let Some(recorded) = &mut self.recorded {
            recorded.push(value);
        }
    }
}

/// Weights prepared for repeated [`weighted_table`](Chooser::weighted_table) draws: their running
/// sums, so a draw is one search instead of a sum and a scan.
#[derive(Debug, Clone)]
pub struct WeightTable {
    weights: Vec<u32>,
    /// `cumulative[i]` is the sum of `weights[..=i]`.
    cumulative: Vec<u64>,
    total: u64,
}

impl WeightTable {
    /// The table of `weights`.
    pub fn new(weights: &[u32]) -> WeightTable {
        let cumulative: Vec<u64> = weights
            .iter()
            .scan(0_u64, |sum, &weight| {
                *sum += u64::from(weight);
                Some(*sum)
            })
            .collect();
        let total = cumulative.last().copied().unwrap_or(0);
        WeightTable { weights: weights.to_vec(), cumulative, total }
    }
}

/// Bytes needed to write `max` (at least 1).
fn bytes_for(max: u64) -> usize {
    let bits = 64 - max.leading_zeros();
    usize::try_from(bits.div_ceil(8)).unwrap_or(8).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw_some(chooser: &mut Chooser) -> Vec<u64> {
        vec![
            chooser.below(10),
            chooser.range(5, 9),
            u64::from(chooser.chance(1, 3)),
            u64::try_from(chooser.weighted(&[0, 3, 5])).unwrap_or(9),
            chooser.any_u64(),
            u64::try_from(chooser.index(4)).unwrap_or(9),
        ]
    }

    #[test]
    fn a_recorded_run_replays_exactly() {
        for seed in 0..50 {
            let mut original = Chooser::from_seed(seed).recording();
            let first: Vec<u64> = (0..20).flat_map(|_| draw_some(&mut original)).collect();
            let mut replay = Chooser::replay(original.recorded().to_vec());
            let second: Vec<u64> = (0..20).flat_map(|_| draw_some(&mut replay)).collect();
            assert_eq!(first, second, "seed {seed}");
            assert!(!replay.is_exhausted());
        }
    }

    #[test]
    fn an_exhausted_replay_answers_the_simplest_choice() {
        let mut chooser = Chooser::replay(vec![3]);
        assert_eq!(chooser.below(10), 3);
        assert!(!chooser.is_exhausted());
        assert_eq!(chooser.range(5, 9), 5);
        assert!(!chooser.chance(1, 3));
        assert!(chooser.chance(1, 1), "a certain outcome is no choice");
        assert_eq!(chooser.weighted(&[0, 3, 5]), 1);
        assert!(chooser.is_exhausted());
    }

    #[test]
    fn replayed_values_are_clamped_and_zero_weights_skipped() {
        let mut chooser = Chooser::replay(vec![99, 0, 7]);
        assert_eq!(chooser.below(10), 9);
        assert_eq!(chooser.weighted(&[0, 3, 5]), 1);
        assert_eq!(chooser.weighted(&[1, 1]), 1);
    }

    #[test]
    fn bytes_are_read_as_narrow_as_each_choice() {
        let mut chooser = Chooser::from_bytes(&[7, 0x34, 0x12, 1]);
        assert_eq!(chooser.below(200), 7);
        assert_eq!(chooser.below(60_000), 0x1234);
        assert!(chooser.chance(1, 2));
        assert!(!chooser.is_exhausted());
        assert_eq!(chooser.below(5), 0);
        assert!(chooser.is_exhausted());
    }

    #[test]
    fn a_weight_table_draws_what_weighted_draws() {
        let tables: [&[u32]; 5] = [&[0, 3, 5], &[1], &[0, 0], &[7, 0, 0, 2, 0, 9], &[]];
        for weights in tables {
            let table = WeightTable::new(weights);
            for seed in 0..20 {
                let mut plain = Chooser::from_seed(seed).recording();
                let mut fast = Chooser::from_seed(seed).recording();
                for _ in 0..500 {
                    assert_eq!(plain.weighted(weights), fast.weighted_table(&table), "{weights:?}");
                }
                assert_eq!(plain.recorded(), fast.recorded());
                let mut replayed = Chooser::replay(plain.recorded().to_vec());
                for &index in plain.recorded() {
                    let index = usize::try_from(index).unwrap_or(usize::MAX);
                    assert_eq!(replayed.weighted_table(&table), index);
                }
            }
        }
    }

    #[test]
    fn bytes_for_counts_significant_bytes() {
        assert_eq!(bytes_for(0), 1);
        assert_eq!(bytes_for(255), 1);
        assert_eq!(bytes_for(256), 2);
        assert_eq!(bytes_for(u64::MAX), 8);
    }
}
