//! The restored-zombie oracle of a simulated node: a process restored from a snapshot of an
//! earlier one serves no session meta had ended when the process started (a KILL SESSION, a
//! sign-out or an expiry that came after the snapshot). Meta never brings an ended session
//! back, so such a session may stay in the restored registry only until meta's answer ends it,
//! and meanwhile no statement of it may run: its last activity and its query count stay what
//! the snapshot held. Exact, with no staleness bound: the kill oracle's bound covers a session
//! ended while a process runs, not one ended before it started.

use graphsession_core::cluster::MetaStore;

use super::SimNode;

/// What the snapshot held of a session meta had ended when the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndedAtStart {
    last_activity_unix_ms: u64,
    queries_run: u64,
}

impl SimNode {
    /// Just restored: remembers the restored sessions that `meta` (the world's store, at the
    /// process's start) holds as ended.
    pub(crate) fn note_ended_at_start(&mut self, meta: &MetaStore) {
        let registry = self.graph.registry();
        for view in registry.cluster_sessions() {
            let session = view.session;
            if meta.gone_reason(session).is_none() {
                continue;
            }
            if let Some(stats) = registry.session_stats(session.get()) {
                let mark = EndedAtStart {
                    last_activity_unix_ms: stats.last_activity_unix_ms,
                    queries_run: stats.queries_run,
                };
                self.ended_at_start.insert(session, mark);
            }
        }
    }

    /// After every drain: no session meta had ended at the start saw a statement here.
    pub(super) fn judge_restored_zombies(&mut self) {
        if self.ended_at_start.is_empty() {
            return;
        }
        let registry = self.graph.registry();
        let mut served = Vec::new();
        self.ended_at_start.retain(|session, mark| {
            let Some(stats) = registry.session_stats(session.get()) else {
                // Ended here; meta never gives it back, so nothing is left to watch.
                return false;
            };
            if stats.last_activity_unix_ms != mark.last_activity_unix_ms
                || stats.queries_run != mark.queries_run
            {
                served.push((*session, *mark, stats.last_activity_unix_ms, stats.queries_run));
            }
            true
        });
        for (session, mark, activity_ms, queries_run) in served {
            self.violations.push(format!(
                "[restored_zombie] node {} restored session {session} from a snapshot, though \
                 meta had ended it before the process started, and served it (activity {} -> \
                 {activity_ms}, queries {} -> {queries_run}); expected it to wait for meta's \
                 answer, which ends it",
                self.id.0, mark.last_activity_unix_ms, mark.queries_run
            ));
        }
    }
}
