//! Applying meta's answer on the node. Only the answer to the request in flight is applied;
//! every step is idempotent (installing a held session, dropping a dropped one, killing an ended
//! query are no-ops), so a resync that repeats them is harmless.

use graphsession_id_gen::SessionId;

use crate::cluster::local::LocalSessions;
use crate::cluster::messages::{Answer, Refusal, Reply, RequestId, SessionRecord};
use crate::cluster::node::{Acked, Flight, NodeEvent, NodeSync, Reload, Sent};

impl NodeSync {
    /// Applies meta's `answer` at `now_unix_ms` to `local`. An answer to any request but the one
    /// in flight (a duplicate, a late answer to an abandoned request) is counted as ignored, but
    /// its idempotent parts still apply: sessions gone (meta tombstones them and never revives
    /// them) and queries to kill (a (session, plan) pair is never reused). So a kill reaches this
    /// node even when every answer arrives after the request timeout.
    pub fn handle_answer(
        &mut self,
        now_unix_ms: u64,
        answer: Answer,
        local: &mut impl LocalSessions,
    ) {
        let now = self.observe(now_unix_ms);
        if let Answer::Refused { id, refusal: Refusal::Stale { last } } = &answer
            && last == id
        {
            // A copy of this very request (the network duplicated it) was refused because meta
            // had handled the request itself: the request's own answer is on its way, or lost,
            // which the request timeout covers. Moving the incarnation up here would give the
            // next process of this node, whose incarnation the host picks, ids this one used, and
            // that process would take this one's answers for its own.
            self.answers_ignored += 1;
            return;
        }
        let next_round_unix_ms = match &self.flight {
            Flight::Awaiting { sent, next_round_unix_ms, .. } if answer.id() == sent.id => {
                *next_round_unix_ms
            }
            _ => {
                self.apply_late(answer, local);
                return;
            }
        };
        // The awaited answer: the flight is over whatever it says, and its reports move into
        // the acknowledged state instead of being copied.
        let flight = std::mem::replace(&mut self.flight, Flight::Idle { next_round_unix_ms });
        let Flight::Awaiting { sent, .. } = flight else { return };
        match answer {
            Answer::Reply(reply) => {
                self.apply(reply, sent, local);
                self.consecutive_failures = 0;
            }
            Answer::Refused { refusal: Refusal::Stale { last }, .. } => {
                // Meta handled a newer id of ours: an incarnation that did not grow. Move above.
                if last.incarnation >= self.incarnation {
                    self.incarnation = last.incarnation.saturating_add(1);
                    self.round = 0;
                }
                self.push_event(NodeEvent::Refused(Refusal::Stale { last }));
                self.flight = Flight::Idle { next_round_unix_ms: now };
            }
            Answer::Refused { refusal, .. } => {
                self.push_event(NodeEvent::Refused(refusal));
                self.back_off(now, next_round_unix_ms);
            }
        }
    }

    fn apply(&mut self, reply: Reply, mut sent: Sent, local: &mut impl LocalSessions) {
        let shown = std::mem::take(&mut sent.shown);
        if let Some(queries) = sent.queries.take() {
            self.acked_queries = Some(queries);
        }
        if reply.resync {
            // Meta may have dropped a "gone" we never saw: report every session again. (Its
            // list of this node's queries is never collected: it stays acknowledged.)
            self.acked.clear();
        }
        for &session in &sent.released {
            self.releases.remove(&session);
        }
        for record in &reply.records {
            if self.pick_ups.remove(&record.session) {
                local.install(record);
                self.installed(record);
                // Held here already when the reload installed it while the pick-up was on its
                // way: the install left that older copy as it was, and this record is the last
                // meta hands out until its record changes again, so its space is taken here.
                self.adopt_space(record, local);
                self.push_event(NodeEvent::PickedUp { session: record.session });
            } else {
                self.adopt_space(record, local);
            }
        }
        if let Some(page) = &reply.reload {
            for record in &page.records {
                local.install(record);
                self.installed(record);
                // A session held here already (restored from a snapshot older than meta's
                // record) takes meta's space if that is newer: meta hands a record out only
                // when it changes, so nothing later would correct it.
                self.adopt_space(record, local);
            }
            self.reload = match page.next_after {
                Some(after) => Reload::Pending { after: Some(after) },
                None => Reload::Done,
            };
            if self.reload == Reload::Done {
                self.push_event(NodeEvent::Reloaded);
            }
        }
        self.apply_gone(&reply, local);
        self.acknowledge(&reply, sent);
        self.apply_kills(&reply, local);
        if let Some(page) = reply.sessions {
            self.show_wanted = false;
            self.push_event(NodeEvent::Sessions(page));
        }
        if let Some(queries) = reply.queries {
            self.queries_wanted = false;
            self.push_event(NodeEvent::Queries(queries));
        }
        if !shown.is_empty() {
            for session in &shown {
                self.shown_wanted.remove(session);
            }
            self.push_event(NodeEvent::Shown { asked: shown, records: reply.shown });
        }
        self.cursor = reply.changes_seen_seq;
        self.backlog |= reply.more_changes;
    }

    /// An answer that is not the one awaited: only its idempotent parts apply, and a "gone" only for
    /// a session this node still tracks or holds, so a duplicate answer repeats no event. (Held
    /// but not tracked: a session reported and not yet acknowledged, as after a restart whose
    /// registry was restored; its "gone" may come only in a late answer.)
    fn apply_late(&mut self, answer: Answer, local: &mut impl LocalSessions) {
        self.answers_ignored += 1;
        let Answer::Reply(mut reply) = answer else { return };
        let untracked = |session: &SessionId| {
            !self.acked.contains_key(session)
                && !self.unannounced.contains(session)
                && !self.pick_ups.contains(session)
        };
        let held: Vec<SessionId> = if reply.gone.iter().any(|gone| untracked(&gone.session)) {
            local.sessions().into_iter().map(|report| report.session).collect()
        } else {
            Vec::new()
        };
        reply.gone.retain(|gone| !untracked(&gone.session) || held.contains(&gone.session));
        self.apply_gone(&reply, local);
        self.apply_kills(&reply, local);
    }

    /// Drops the sessions meta says are gone.
    fn apply_gone(&mut self, reply: &Reply, local: &mut impl LocalSessions) {
        for gone in &reply.gone {
            local.drop_session(gone.session, gone.reason);
            self.acked.remove(&gone.session);
            self.unconfirmed.remove(&gone.session);
            self.unannounced.remove(&gone.session);
            if self.pick_ups.remove(&gone.session) {
                self.push_event(NodeEvent::PickUpFailed { session: gone.session });
            }
            self.push_event(NodeEvent::Gone { session: gone.session, reason: gone.reason });
        }
    }

    /// Kills the queries meta marked (a no-op for those not running here).
    fn apply_kills(&mut self, reply: &Reply, local: &mut impl LocalSessions) {
        for &key in &reply.kills {
            if local.kill_query(key) {
                self.push_event(NodeEvent::QueryKilled { key });
            }
        }
    }

    /// Meta counts this node as a holder of `record`'s session from now on.
    /// Adopts `record`'s space if it is newer than this node's copy, and remembers it as acked
    /// (meta holds it already, so it is no change to report).
    fn adopt_space(&mut self, record: &SessionRecord, local: &mut impl LocalSessions) {
        if local.adopt_space(record)
            && let Some(acked) = self.acked.get_mut(&record.session)
        {
            acked.space.clone_from(&record.space);
            acked.space_set_unix_ms = record.space_set_unix_ms;
        }
    }

    fn installed(&mut self, record: &SessionRecord) {
        self.acked.insert(record.session, acked_of(record));
        self.unconfirmed.remove(&record.session);
        if self.unannounced.remove(&record.session) {
            self.push_event(NodeEvent::Registered { session: record.session });
        }
    }

    /// Marks what the request carried as acknowledged.
    fn acknowledge(&mut self, reply: &Reply, sent: Sent) {
        let is_gone = |session| reply.gone.iter().any(|gone| gone.session == session);
        for (session, acked) in sent.reports {
            if is_gone(session) {
                continue;
            }
            self.acked.insert(session, acked);
            self.unconfirmed.remove(&session);
            if self.unannounced.remove(&session) {
                self.push_event(NodeEvent::Registered { session });
            }
        }
        for &session in &reply.not_found {
            if self.pick_ups.remove(&session) {
                self.push_event(NodeEvent::PickUpFailed { session });
            }
        }
        for outcome in &reply.removals {
            if self.removals.remove(&outcome.session).is_some() {
                let (session, removed) = (outcome.session, outcome.removed);
                self.push_event(NodeEvent::Removed { session, removed });
            }
        }
        for &(key, result) in &reply.query_kills {
            if self.query_kills.remove(&key).is_some() {
                self.push_event(NodeEvent::QueryKillAnswered { key, result });
            }
        }
    }

    /// The id the next request will carry.
    #[must_use]
    pub fn next_request_id(&self) -> RequestId {
        RequestId { incarnation: self.incarnation, round: self.round + 1 }
    }
}

/// What meta knows of a session this node installs from it: reported once, unless it changes.
fn acked_of(record: &SessionRecord) -> Acked {
    Acked {
        last_activity_unix_ms: record.last_activity_unix_ms,
        running_queries: 0,
        space_set_unix_ms: record.space_set_unix_ms,
        space: record.space.clone(),
    }
}
