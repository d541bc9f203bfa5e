//! A node's sync judged at its edges, once per world: a sync of its own with the world's
//! timing and small bounds, against a meta store of its own and a model of the node's sessions
//! (no session of the world, no choice drawn, so no trace changes).
//!
//! - What it sends: a round after meta acknowledged a session reports it again only once it
//!   changed (its activity moved on), never while unchanged.
//! - When: with nothing to do the next round waits for `sync_interval_ms`; a login's announce,
//!   a removal (sign-out, KILL SESSION) or a KILL QUERY alone is sent at once.
//! - Its bounds: with `pending_query_kills_max` kills pending another one is refused, one
//!   already pending is taken again; with `events_max` 1 a round that answers two kills keeps
//!   one event and counts one dropped; the refusal carries one of NebulaGraph's codes (what a
//!   client of the KILL QUERY it refuses gets).

use std::collections::BTreeMap;

use graphsession_core::cluster::{
    GoneReason, LocalSessions, MetaConfig, MetaStore, NodeConfig, NodeError, NodeId, NodeSync,
    QueryKill, RemoveReason, SessionRecord, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::QueryKey;

use crate::world::Checked;
use crate::world::meta_probes::{report, session};

/// The probe's bound on pending KILL QUERY requests.
const KILLS_MAX: u32 = 2;

/// The node's sessions as the sync sees them: a plain map (the model of a registry).
#[derive(Default)]
struct Model {
    sessions: BTreeMap<SessionId, SessionReport>,
}

impl LocalSessions for Model {
    fn sessions(&self) -> Vec<SessionReport> {
        self.sessions.values().cloned().collect()
    }

    fn install(&mut self, record: &SessionRecord) {
        let mut installed = report(record.session, &record.user, record.last_activity_unix_ms);
        installed.client_ip.clone_from(&record.client_ip);
        self.sessions.entry(record.session).or_insert(installed);
    }

    fn adopt_space(&mut self, _record: &SessionRecord) -> bool {
        false
    }

    fn drop_session(&mut self, session: SessionId, _reason: GoneReason) {
        self.sessions.remove(&session);
    }

    fn kill_query(&mut self, _key: QueryKey) -> bool {
        false
    }
}

/// The probe's node, its meta and its sessions, on one clock.
struct Probe {
    sync: NodeSync,
    meta: MetaStore,
    model: Model,
    now: u64,
}

impl Probe {
    /// Runs the sync's timer at `now` and hands its request, if any, to meta and the answer
    /// back; returns the request's `updated` sessions (`None` when nothing was sent).
    fn round(&mut self) -> Option<Vec<SessionId>> {
        self.sync.handle_timeout(self.now, &self.model);
        let request = self.sync.poll_request()?;
        let updated = request.updated.iter().map(|report| report.session).collect();
        let answer = self.meta.handle_request(self.now, NodeId(0), request);
        self.sync.handle_answer(self.now, answer, &mut self.model);
        Some(updated)
    }

    /// Rounds at `now` until the sync sends nothing more (a bounded number).
    fn settle(&mut self) {
        for _ in 0..8 {
            if self.round().is_none() {
                return;
            }
        }
    }

    fn drain_events(&mut self) -> usize {
        std::iter::from_fn(|| self.sync.poll_event()).count()
    }

    /// Whether the sync wants to run now (its next round is not later).
    fn wants_now(&self) -> bool {
        self.sync.poll_timeout().is_some_and(|at| at <= self.now)
    }
}

/// Runs every probe of this module with the world's meta config and sync timing.
pub(super) fn check_sync_edges(meta: &MetaConfig, sync: &NodeConfig, now: u64) -> Checked {
    let config = NodeConfig { pending_query_kills_max: KILLS_MAX, events_max: 1, ..*sync };
    let mut probe = Probe {
        sync: NodeSync::new(config, 1, now).map_err(|error| {
            format!("[sync_probe] the probe's node config was refused: {error}")
        })?,
        meta: MetaStore::new(*meta)
            .map_err(|error| format!("[sync_probe] the meta config was refused: {error}"))?,
        model: Model::default(),
        now,
    };
    probe.settle();
    if !probe.sync.is_reloaded() || probe.wants_now() {
        return Err(format!(
            "[sync_timing] a node's sync with nothing to do after its reload wants a round at {:?} \
             (now {now}, reloaded {}); expected the next after sync_interval_ms",
            probe.sync.poll_timeout(),
            probe.sync.is_reloaded()
        ));
    }
    check_reports(&mut probe)?;
    check_removal_urgent(&mut probe)?;
    check_kills(&mut probe)
}

/// A session reported again only when it changed since meta acknowledged it.
fn check_reports(probe: &mut Probe) -> Checked {
    let id = session(1)?;
    probe.model.sessions.insert(id, report(id, "user", probe.now));
    probe
        .sync
        .announce(probe.now, id)
        .map_err(|error| format!("[sync_probe] announce refused: {error}"))?;
    probe.settle();
    if probe.meta.session(id).is_none() {
        return Err(format!(
            "[sync_timing] meta does not hold session {id} after the node announced it and ran \
             its timer at that instant; expected a login told to meta at once"
        ));
    }
    let interval = probe.sync.poll_timeout().unwrap_or(probe.now).saturating_sub(probe.now);
    probe.now += interval.max(1);
    let unchanged = probe.round().unwrap_or_default();
    if !unchanged.is_empty() {
        return Err(format!(
            "[sync_reports] a node's round reports {unchanged:?} again, unchanged since meta \
             acknowledged it; expected only sessions that changed"
        ));
    }
    if let Some(held) = probe.model.sessions.get_mut(&id) {
        held.last_activity_unix_ms = probe.now;
    }
    let interval = probe.sync.poll_timeout().unwrap_or(probe.now).saturating_sub(probe.now);
    probe.now += interval.max(1);
    let changed = probe.round().unwrap_or_default();
    if changed != [id] {
        return Err(format!(
            "[sync_reports] a node's round after session {id}'s activity moved on reports \
             {changed:?}; expected exactly it"
        ));
    }
    probe.settle();
    Ok(())
}

/// A removal alone is sent at once.
fn check_removal_urgent(probe: &mut Probe) -> Checked {
    probe.now += 1;
    let id = session(1)?;
    probe.model.sessions.remove(&id);
    probe
        .sync
        .remove(probe.now, id, RemoveReason::SignedOut)
        .map_err(|error| format!("[sync_probe] removal refused: {error}"))?;
    if !probe.wants_now() {
        return Err(format!(
            "[sync_timing] a node's sync holding a sign-out to tell meta, and nothing else, waits \
             until {:?} (now {}); expected it sent at once",
            probe.sync.poll_timeout(),
            probe.now
        ));
    }
    probe.settle();
    probe.drain_events();
    Ok(())
}

/// The pending KILL QUERY bound, their urgency, and the event queue's bound.
fn check_kills(probe: &mut Probe) -> Checked {
    probe.now += 1;
    let kill = |plan: u64| -> Result<QueryKill, String> {
        Ok(QueryKill {
            key: QueryKey { session: session(7)?, plan: PlanId::from_u64(plan) },
            caller_user: "root".to_owned(),
            caller_is_god: true,
        })
    };
    for plan in 1..=u64::from(KILLS_MAX) {
        probe.sync.kill_query(probe.now, kill(plan)?).map_err(|error| {
            format!(
                "[sync_bounds] a KILL QUERY within pending_query_kills_max was refused: {error}"
            )
        })?;
    }
    let past = probe.sync.kill_query(probe.now, kill(u64::from(KILLS_MAX) + 1)?);
    if !matches!(past, Err(NodeError::QueryKillsFull { .. })) {
        return Err(format!(
            "[sync_bounds] a KILL QUERY past pending_query_kills_max {KILLS_MAX} gave {past:?}; \
             expected refused as full"
        ));
    }
    if let Err(error) = &past {
        // What a client's KILL QUERY refused as full gets (the reply-code oracle).
        let message = error.to_string();
        crate::world::show::check_command_code(
            0,
            "a KILL QUERY past the sync probe's pending bound",
            error.code(),
            &message,
        )?;
    }
    let again = probe.sync.kill_query(probe.now, kill(1)?);
    if again.is_err() {
        return Err(format!(
            "[sync_bounds] a KILL QUERY already pending, at pending_query_kills_max, gave \
             {again:?}; expected taken (it is one of the pending)"
        ));
    }
    if !probe.wants_now() {
        return Err(format!(
            "[sync_timing] a node's sync holding KILL QUERY requests to tell meta, and nothing \
             else, waits until {:?} (now {}); expected them sent at once",
            probe.sync.poll_timeout(),
            probe.now
        ));
    }
    let dropped = probe.sync.counters().1;
    probe.settle();
    let (kept, dropped) = (probe.drain_events(), probe.sync.counters().1.checked_sub(dropped));
    if (kept, dropped) != (1, Some(1)) {
        return Err(format!(
            "[sync_bounds] a node's sync with events_max 1 got meta's answers to {KILLS_MAX} KILL \
             QUERY requests and holds {kept} events, counts {dropped:?} more dropped; expected 1 \
             held, 1 dropped"
        ));
    }
    Ok(())
}
