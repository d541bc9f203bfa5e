//! Convergence of spaces, on the healed network (every [`SPACES_EVERY_STEPS`] steps of the
//! liveness phase, and beside `check_converged`): each node's copy of a live session's space (the space and when it was
//! set) equals meta's record of it once the newer of the two, and the heal (plus a resend after a
//! request timeout and the longest backoff), are older than the sync bound plus two clock
//! skews. (Without the resend, the oracle judged a USE whose report was lost in a partition and
//! resent after a backoff that began just before the heal: meta learned it after the heal plus
//! a backoff, so the other holder could not have it by the bound. Found on 2026-12-07 at seed
//! 7,400,666,535.) A node that kept an older space than meta's, or took an
//! older one over its own, is reported. Sessions meta does not hold live are not judged.
//! A session a node restored from a snapshot older than its last USE is judged like any other:
//! the node's start-up reload hands it meta's record (this oracle found that the reload used to
//! leave a restored session's older space as it was, and meta sends a record only when the
//! session changes there).

use crate::world::{Checked, ClusterWorld};

/// On the healed network, the spaces are compared after every this many steps.
pub(super) const SPACES_EVERY_STEPS: u64 = 4;

/// One session's space as a node holds it and as meta records it: (space, set at, Unix ms).
pub(super) struct SpaceCopies<'a> {
    /// The node's.
    pub node: (&'a str, u64),
    /// Meta's.
    pub meta: (&'a str, u64),
}

impl ClusterWorld {
    /// Every node's space of each session meta holds live agrees with meta's record (see the
    /// module docs).
    pub(super) fn check_spaces_converged(&self) -> Checked {
        let bound_ms = 2 * self.config.sync_interval_ms
            + 4 * self.config.latency_max_ms
            + 2 * self.config.clock_skew_max_ms
            + 100;
        let healed_for_ms = self.now_ms.saturating_sub(self.heal_ms);
        // A node cut from meta until the heal may have a request lost in the cut: it resends
        // after the request timeout and a backoff of up to `retry_backoff_max_ms`, so a USE it
        // ran reaches meta that much after the heal (and the other nodes a round later).
        let sync = super::node::sync_config(&self.config);
        let resend_ms = sync.request_timeout_ms + sync.retry_backoff_max_ms;
        for (index, node) in self.nodes.iter().enumerate() {
            let node_now = self.node_now(index);
            let healed_at_ms = node_now.saturating_sub(healed_for_ms).saturating_add(resend_ms);
            for view in node.registry().cluster_sessions() {
                let Some(record) = self.meta.session(view.session) else { continue };
                let copies = SpaceCopies {
                    node: (&view.space, view.space_set_unix_ms),
                    meta: (&record.space, record.space_set_unix_ms),
                };
                judge_space(index, view.session, &copies, healed_at_ms, node_now, bound_ms)?;
            }
        }
        Ok(())
    }
}

/// The verdict on one session's two copies of its space, on node `index` whose clock says
/// `node_now` and which healed at `healed_at_ms` (its clock).
pub(super) fn judge_space(
    index: usize,
    session: impl std::fmt::Display,
    copies: &SpaceCopies<'_>,
    healed_at_ms: u64,
    node_now: u64,
    bound_ms: u64,
) -> Checked {
    let (node, meta) = (copies.node, copies.meta);
    if node == meta {
        return Ok(());
    }
    let since_ms = node.1.max(meta.1).max(healed_at_ms);
    if since_ms.saturating_add(bound_ms) > node_now {
        return Ok(());
    }
    Err(format!(
        "[space_not_converged] node {index} holds session {session} in space {:?} set at {} ms; \
         meta's record says {:?} set at {} ms; both, and the heal ({healed_at_ms} ms), more than \
         {bound_ms} ms before now ({node_now} ms on the node): expected the newer USE on both",
        node.0, node.1, meta.0, meta.1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(node: (&str, u64), meta: (&str, u64), now: u64) -> Checked {
        judge_space(1, 7, &SpaceCopies { node, meta }, 0, now, 1_000)
    }

    #[test]
    fn a_node_behind_meta_is_reported_after_the_bound() {
        assert!(judge(("a", 100), ("a", 100), 50_000).is_ok());
        // Within the bound of the newer USE: still travelling.
        assert!(judge(("", 0), ("a", 100), 1_099).is_ok());
        let error = judge(("", 0), ("a", 100), 1_100).unwrap_err();
        assert!(error.starts_with("[space_not_converged] node 1 holds session 7"), "{error}");
        // A node that went back to an older space than meta's.
        assert!(judge(("a", 100), ("b", 200), 5_000).is_err());
    }

    #[test]
    fn a_recent_heal_is_waited_for() {
        let copies = SpaceCopies { node: ("", 0), meta: ("a", 100) };
        assert!(judge_space(0, 7, &copies, 4_500, 5_000, 1_000).is_ok());
        assert!(judge_space(0, 7, &copies, 3_900, 5_000, 1_000).is_err());
    }
}
