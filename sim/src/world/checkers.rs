//! The checkers' self-test: a checker made weaker (`check_invariants` that reports nothing, a
//! bound compared the wrong way) is invisible to oracles that only ever see sound machines. At
//! seeded steps of the safety phase, each corruption of the `corruption` feature that applies to
//! a machine the run has reached (a node, with its registry and query registries; a client's
//! session machine, on a clone) is applied once, and the machine's `check_invariants` must
//! report exactly the property the corruption names (or pass, for a bound met exactly); a
//! node's corruption is undone at once, so the run goes on as if nothing happened: no choice
//! is drawn and no trace changes.
//!
//! The self-test needs session-core's `corruption` feature, which the sim's default feature
//! `checkers` turns on; without it (graphd takes the library for its record type, the fuzzers
//! for the world) a round does nothing.

#[cfg(feature = "checkers")]
use std::collections::BTreeSet;

#[cfg(feature = "checkers")]
use graphsession_core::client::ClientCorruption;
#[cfg(feature = "checkers")]
use graphsession_core::node::NodeCorruption;

use crate::world::{Checked, ClusterWorld};

/// Steps between two self-test rounds: rare, so the run costs about what it did.
#[cfg(feature = "checkers")]
const PERIOD_STEPS: u64 = 64;

/// Which corruptions a run has judged (each once per run).
#[derive(Debug, Default)]
pub(super) struct CheckerTests {
    #[cfg(feature = "checkers")]
    nodes: BTreeSet<NodeCorruption>,
    #[cfg(feature = "checkers")]
    clients: BTreeSet<ClientCorruption>,
    /// Every corruption judged: the rounds stop.
    #[cfg(feature = "checkers")]
    done: bool,
    /// Every node corruption in order (`NodeCorruption::all`), listed once per run, not per round.
    #[cfg(feature = "checkers")]
    node_all: Vec<NodeCorruption>,
    /// Whether meta's kill-mark count was compared with a persisted state that holds marks
    /// (`probes.rs`).
    pub(super) kill_marks_checked: bool,
    /// Meta crashes whose state was serialized to count its kill marks.
    pub(super) kill_mark_tries: u8,
}

#[cfg(not(feature = "checkers"))]
impl ClusterWorld {
    /// Without the `checkers` feature there is nothing to corrupt: no round runs.
    #[expect(clippy::unnecessary_wraps, reason = "the shape of the round with the feature")]
    pub(super) fn self_test_checkers(&mut self) -> Checked {
        Ok(())
    }
}

#[cfg(feature = "checkers")]
impl ClusterWorld {
    /// One self-test round at this run's seeded steps (the seed picks the phase within
    /// [`PERIOD_STEPS`]): each corruption not yet judged this run, on the first machine it
    /// applies to.
    pub(super) fn self_test_checkers(&mut self) -> Checked {
        if self.checker_tests.done || (self.step + self.seed) % PERIOD_STEPS != 0 {
            return Ok(());
        }
        if self.checker_tests.node_all.is_empty() {
            self.checker_tests.node_all = NodeCorruption::all();
        }
        // Put back at the end of the round (a failed round ends the run).
        let node_corruptions = std::mem::take(&mut self.checker_tests.node_all);
        for &corruption in &node_corruptions {
            if self.checker_tests.nodes.contains(&corruption) {
                continue;
            }
            for (index, node) in self.nodes.iter_mut().enumerate() {
                let graph = node.graph_mut();
                let Some(restore) = graph.corrupt(corruption) else { continue };
                let found = graph.check_invariants();
                // As the check's report writes a pair's count: `("user", "ip"): count`.
                let named = (restore.miscounted_pair())
                    .map(|(user, ip, counted)| format!("({user:?}, {ip:?}): {counted}"));
                graph.undo_corruption(restore);
                judge_names(format_args!("node {index}"), corruption, named, &found)?;
                judge(format_args!("node {index}"), corruption, corruption.property(), found)?;
                self.checker_tests.nodes.insert(corruption);
                self.stats.checker_self_tests += 1;
                break;
            }
        }
        for corruption in ClientCorruption::ALL {
            if self.checker_tests.clients.contains(&corruption) {
                continue;
            }
            for (slot, client) in self.clients.iter().enumerate() {
                let Some(machine) = client.single_machine() else { continue };
                // Cloned only where the corruption applies (`corrupt` on the copy still decides).
                if !machine.corruption_applies(corruption) {
                    continue;
                }
                let mut copy = machine.clone();
                if !copy.corrupt(corruption) {
                    continue;
                }
                let found = copy.check_invariants();
                judge(format_args!("client {slot}"), corruption, corruption.property(), found)?;
                self.checker_tests.clients.insert(corruption);
                self.stats.checker_self_tests += 1;
                break;
            }
        }
        self.checker_tests.done = self.checker_tests.nodes.len() == node_corruptions.len()
            && self.checker_tests.clients.len() == ClientCorruption::ALL.len();
        self.checker_tests.node_all = node_corruptions;
        Ok(())
    }
}

/// The report of a corruption that changed one (user, ip) pair's count states that pair with
/// its wrong count (`named`): a report that only says "counts differ" leaves its reader to
/// search every pair.
#[cfg(feature = "checkers")]
fn judge_names(
    machine: std::fmt::Arguments<'_>,
    corruption: impl std::fmt::Debug,
    named: Option<String>,
    found: &Result<(), graphsession_core::Violation>,
) -> Checked {
    let (Some(named), Err(violation)) = (named, found) else { return Ok(()) };
    if violation.detail.contains(named.as_str()) {
        return Ok(());
    }
    Err(format!(
        "[checker_self_test] {machine} with the corruption {corruption:?}: the report does not \
         state {named}: {}",
        violation.detail
    ))
}

/// The check of a machine with `corruption` applied reported `expected` (`None`: passed).
#[cfg(feature = "checkers")]
fn judge(
    machine: std::fmt::Arguments<'_>,
    corruption: impl std::fmt::Debug,
    expected: Option<&'static str>,
    found: Result<(), graphsession_core::Violation>,
) -> Checked {
    let reported = found.as_ref().err().map(|violation| violation.property);
    if reported == expected {
        return Ok(());
    }
    Err(format!(
        "[checker_self_test] {machine} with the corruption {corruption:?}: check_invariants said {found:?}; expected {}",
        expected.map_or_else(
            || "Ok (a bound met exactly)".to_owned(),
            |p| format!("a violation of {p}")
        )
    ))
}
