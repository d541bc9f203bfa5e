//! Shrinking a failing run: its recorded choices are cut and lowered, each candidate is replayed,
//! and the shortest list that still fails is kept. Because a replayed list that runs out ends the
//! fault phase (every further choice is the simplest), a shorter list is a shorter trace.
//!
//! Passes, repeated until none makes progress or the replay budget is spent: the shortest failing
//! prefix (binary search), removal of chunks from large to single choices, and lowering each
//! value to 0 or to half.

/// What shrinking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The shortest failing list of choices found.
    pub choices: Vec<u64>,
    /// Candidates replayed.
    pub replays: u32,
}

/// Shrinks `choices`, which must fail (`fails` returns true for them), with at most
/// `replays_max` replays.
pub fn shrink(
    choices: Vec<u64>,
    replays_max: u32,
    mut fails: impl FnMut(&[u64]) -> bool,
) -> Shrunk {
    let mut best = choices;
    let mut replays = 0_u32;
    let mut attempt = |candidate: &[u64], replays: &mut u32| -> bool {
        if *replays >= replays_max {
            return false;
        }
        *replays += 1;
        fails(candidate)
    };
    loop {
        let before = best.len();
        let sum_before: u128 = best.iter().map(|&value| u128::from(value)).sum();
        // The shortest failing prefix, assuming (roughly) that longer prefixes fail too.
        let (mut low, mut high) = (0, best.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if attempt(&best[..middle], &mut replays) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        best.truncate(high);
        // Chunks, largest first, from the end (later choices depend on earlier ones).
        let mut size = (best.len() / 2).max(1);
        loop {
            let mut start = best.len().saturating_sub(size);
            loop {
                if start + size <= best.len() {
                    let mut candidate = best.clone();
                    candidate.drain(start..start + size);
                    if attempt(&candidate, &mut replays) {
                        best = candidate;
                    }
                }
                if start == 0 {
                    break;
                }
                start = start.saturating_sub(size);
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
        // Simpler values.
        for index in 0..best.len() {
            if best[index] == 0 {
                continue;
            }
            for lower in [0, best[index] / 2] {
                let mut candidate = best.clone();
                candidate[index] = lower;
                if attempt(&candidate, &mut replays) {
                    best = candidate;
                    break;
                }
            }
        }
        let sum_after: u128 = best.iter().map(|&value| u128::from(value)).sum();
        let progressed = best.len() < before || sum_after < sum_before;
        if !progressed || replays >= replays_max {
            return Shrunk { choices: best, replays };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let shrunk = shrink(original, 10_000, fails);
        assert!(fails(&shrunk.choices));
        assert_eq!(shrunk.choices.len(), 2, "{:?}", shrunk.choices);
        assert_eq!(shrunk.choices[0], 7);
        assert!(shrunk.choices[1] > 100 && shrunk.choices[1] <= 202);
    }

    #[test]
    fn respects_the_replay_budget() {
        let mut calls = 0;
        let shrunk = shrink(vec![5; 1000], 10, |_| {
            calls += 1;
            true
        });
        assert_eq!(calls, 10);
        assert_eq!(shrunk.replays, 10);
    }
}
