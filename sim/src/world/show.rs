//! What an admin reads, checked against the simulator's own model, and what every failure reply
//! carries:
//!
//! - **SHOW LOCAL SESSIONS** on each node lists exactly the sessions its registry holds (by id,
//!   once each), each as the workload user from the workload's address, created no later than
//!   its last activity and that activity no later than the node's clock, in the space the
//!   registry says it is in; the per-(user, address) count equals the rows of that pair.
//! - **SHOW QUERIES** on each node lists exactly the long queries its executor still runs, each
//!   `RUNNING` until a kill reached it and `KILLING` after (NebulaGraph's words), as the
//!   workload user.
//! - **Meta's SHOW SESSIONS**, read page by page, lists every live session once, by id, and as
//!   many as meta counts.
//! - **Meta's SHOW QUERIES** (every node's, as they last reported them) lists only plans the
//!   node it names handed its executor, of live sessions, each once, as the workload user.
//! - **Each node's counters** (`SessionManager::stats`) move as the events it emitted say: as
//!   many sessions opened, signed out and expired as its events reported since the last look
//!   (within one incarnation, while its event queue dropped none), and as many active as it
//!   holds.
//! - **Failure replies** carry a NebulaGraph code (one of `graphsession_base::codes`) and a
//!   message.
//!
//! The listings are read every [`SHOW_EVERY_STEPS`] steps and at the end of the run: they take no
//! choice and change nothing (a trace is the same with or without them).

use graphsession_base::codes;
use graphsession_core::node::Reply;
use graphsession_core::server::NodeStats;
use graphsession_id_gen::SessionId;

use crate::world::client::USER;
use crate::world::node::{CLIENT_IP, NodeCounters};
use crate::world::{Checked, ClusterWorld};

/// The listings are read after every this many steps.
pub(super) const SHOW_EVERY_STEPS: u64 = 128;

/// The codes a graph node may send in a failure reply: NebulaGraph's, as `codes` names them.
const FAILURE_CODES: [i32; 17] = [
    codes::E_ROLE_NOT_FOUND,
    codes::E_USER_NOT_FOUND,
    codes::E_BAD_USERNAME_PASSWORD,
    codes::E_SESSION_INVALID,
    codes::E_SESSION_TIMEOUT,
    codes::E_SYNTAX_ERROR,
    codes::E_EXECUTION_ERROR,
    codes::E_BAD_PERMISSION,
    codes::E_SEMANTIC_ERROR,
    codes::E_TOO_MANY_CONNECTIONS,
    codes::E_EXISTED,
    codes::E_NOT_DROP,
    codes::E_IMPROPER_ROLE,
    codes::E_SESSION_NOT_FOUND,
    codes::E_QUERY_NOT_FOUND,
    codes::E_PLAN_IS_KILLED,
    graphsession_core::node::E_CLIENT_SERVER_INCOMPATIBLE,
];

/// The reply-code oracle: a failure reply node `node` wrote carries a NebulaGraph code and a
/// message.
pub(super) fn check_reply_code(node: u16, reply: &Reply) -> Option<String> {
    let (what, code, message) = match reply {
        Reply::AuthenticateFailed { code, message } => ("login refusal", *code, message),
        Reply::ExecuteFailed { code, message, .. } => ("statement failure", *code, message),
        _ => return None,
    };
    if FAILURE_CODES.contains(&code) && !message.is_empty() {
        return None;
    }
    Some(format!(
        "[reply_code] node {node} wrote a {what} with code {code} and message {message:?}; \
         expected one of NebulaGraph's codes {FAILURE_CODES:?} and a message"
    ))
}

/// The reply-code oracle on a refused KILL QUERY (the admin's, or a probe's): the error the
/// statement's client would get carries one of NebulaGraph's codes and a message.
pub(super) fn check_command_code(node: usize, what: &str, code: i32, message: &str) -> Checked {
    if FAILURE_CODES.contains(&code) && !message.is_empty() {
        return Ok(());
    }
    Err(format!(
        "[reply_code] node {node} refused {what} with code {code} and message \
         {message:?}; expected one of NebulaGraph's codes {FAILURE_CODES:?} and a message"
    ))
}

/// What the listing oracles remember between looks: per node, its incarnation, counters and the
/// simulator's event counts at the last look.
#[derive(Debug, Default)]
pub(super) struct Listings {
    seen: Vec<Option<(u64, NodeStats, NodeCounters)>>,
}

impl ClusterWorld {
    /// The listing oracles (see the module docs), every [`SHOW_EVERY_STEPS`] steps.
    pub(super) fn check_show(&mut self) -> Checked {
        if self.step % SHOW_EVERY_STEPS != 0 {
            return Ok(());
        }
        self.check_show_now()
    }

    /// The listing oracles, now.
    pub(super) fn check_show_now(&mut self) -> Checked {
        for index in 0..self.nodes.len() {
            self.check_local_sessions(index)?;
            self.check_queries(index)?;
            self.check_node_stats(index)?;
        }
        self.check_meta_sessions()?;
        self.check_meta_queries()
    }

    /// Meta's SHOW QUERIES: every query it lists ran on the node it names (a plan that node
    /// slot handed its executor, in any incarnation), of a live session of the workload user,
    /// once.
    fn check_meta_queries(&self) -> Checked {
        let listed = self.meta.listed_queries();
        for (at, listing) in listed.iter().enumerate() {
            let key = listing.query.key;
            let node = self.nodes.iter().find(|node| node.id == listing.node);
            if !node.is_some_and(|node| node.plans_seen.contains(&key.plan.get())) {
                return Err(format!(
                    "[show_queries] meta lists {key:?} on node {:?}, whose executor never \
                     started it",
                    listing.node
                ));
            }
            if self.meta.session(key.session).is_none() {
                return Err(format!(
                    "[show_queries] meta lists {key:?}, whose session it does not hold live"
                ));
            }
            if listing.user != USER {
                return Err(format!(
                    "[show_queries] meta lists {key:?} of user {:?}; expected {USER:?}",
                    listing.user
                ));
            }
            if listed[..at].iter().any(|earlier| earlier.query.key == key) {
                return Err(format!("[show_queries] meta lists {key:?} twice"));
            }
        }
        Ok(())
    }

    fn check_node_stats(&mut self, index: usize) -> Checked {
        let node = &self.nodes[index];
        let stats = node.registry().stats();
        let now = (node.incarnation, stats, node.counters);
        self.listings.seen.resize(self.nodes.len(), None);
        let before = self.listings.seen[index].replace(now);
        if stats.active != node.registry().session_count() {
            return Err(format!(
                "[node_stats] node {index}: its counters say {} sessions active; it holds {}",
                stats.active,
                node.registry().session_count()
            ));
        }
        let Some((incarnation, was, counted)) = before else { return Ok(()) };
        if incarnation != node.incarnation || was.events_dropped != stats.events_dropped {
            return Ok(());
        }
        let moved = [
            (
                "opened",
                stats.opened - was.opened.min(stats.opened),
                node.counters.created - counted.created,
            ),
            (
                "signed out",
                stats.signed_out - was.signed_out.min(stats.signed_out),
                node.counters.signed_out - counted.signed_out,
            ),
            (
                "expired",
                stats.expired - was.expired.min(stats.expired),
                node.counters.expired - counted.expired,
            ),
        ];
        let went_back = stats.opened < was.opened
            || stats.signed_out < was.signed_out
            || stats.expired < was.expired;
        for (what, counter, events) in moved {
            if went_back || counter != events {
                return Err(format!(
                    "[node_stats] node {index}: its counter of sessions {what} moved from \
                     {was:?} to {stats:?}; its events reported {events} since"
                ));
            }
        }
        Ok(())
    }

    fn check_local_sessions(&self, index: usize) -> Checked {
        let registry = self.nodes[index].registry();
        let rows = registry
            .show_local_sessions(&self.root)
            .map_err(|error| format!("[show_sessions] node {index}: root was refused: {error}"))?;
        let held = registry.session_activity();
        let listed: Vec<SessionId> = rows.iter().map(|row| row.session_id).collect();
        let held_ids: Vec<SessionId> = held.iter().map(|(id, _)| *id).collect();
        if listed != held_ids || u64::try_from(rows.len()).ok() != Some(registry.session_count()) {
            return Err(format!(
                "[show_sessions] node {index}: SHOW LOCAL SESSIONS lists {listed:?}; expected the \
                 {} sessions its registry holds, by id: {held_ids:?}",
                registry.session_count()
            ));
        }
        let now_us = self.node_now(index).max(registry.now_unix_ms()).saturating_mul(1_000);
        for (row, (_, activity_ms)) in rows.iter().zip(&held) {
            let space = registry.session_space(row.session_id.get());
            let wrong = if row.user_name != USER || row.client_ip != CLIENT_IP {
                Some(format!("user {:?} from {:?}", row.user_name, row.client_ip))
            } else if row.create_time_unix_us > row.update_time_unix_us
                || row.update_time_unix_us != activity_ms.saturating_mul(1_000)
                || row.update_time_unix_us > now_us
            {
                Some(format!(
                    "created {} us, updated {} us (activity {activity_ms} ms, now {now_us} us)",
                    row.create_time_unix_us, row.update_time_unix_us
                ))
            } else if space.as_deref() != Some(row.space_name.as_str()) {
                Some(format!("space {:?} (the registry says {space:?})", row.space_name))
            } else {
                None
            };
            if let Some(wrong) = wrong {
                return Err(format!(
                    "[show_sessions] node {index}: SHOW LOCAL SESSIONS row of session {}: {wrong}",
                    row.session_id
                ));
            }
        }
        let pair = registry.user_ip_session_count(USER, CLIENT_IP);
        if u64::from(pair) != registry.session_count() {
            return Err(format!(
                "[user_ip_count] node {index}: ({USER}, {CLIENT_IP}) counts {pair} sessions; \
                 SHOW LOCAL SESSIONS lists {} of that pair",
                rows.len()
            ));
        }
        Ok(())
    }

    pub(super) fn check_queries(&self, index: usize) -> Checked {
        let node = &self.nodes[index];
        let rows = node.registry().show_queries(self.node_now(index), &self.root);
        let mut running: Vec<_> = node.running.iter().map(|query| query.key).collect();
        running.sort_unstable();
        let listed: Vec<_> = rows
            .iter()
            .map(|row| graphsession_query_plan::QueryKey {
                session: row.session_id,
                plan: row.execution_plan_id,
            })
            .collect();
        if listed != running {
            return Err(format!(
                "[show_queries] node {index}: SHOW QUERIES lists {listed:?}; expected the long \
                 queries its executor runs: {running:?}"
            ));
        }
        for (row, key) in rows.iter().zip(&listed) {
            let Some(query) = node.running.iter().find(|query| query.key == *key) else {
                continue;
            };
            let status = row.status.to_string();
            let expected = if query.handle.check().is_ok() { "RUNNING" } else { "KILLING" };
            if status != expected || row.user != USER {
                return Err(format!(
                    "[show_queries] node {index}: query {key:?} listed as {status:?} of user \
                     {:?}; expected {expected:?} of {USER:?}",
                    row.user
                ));
            }
        }
        Ok(())
    }

    fn check_meta_sessions(&self) -> Checked {
        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let page = self.meta.show_sessions(after);
            listed.extend(page.records.iter().map(|record| record.session));
            match page.next_after {
                Some(next) if page.records.last().map(|record| record.session) == Some(next) => {
                    after = Some(next);
                }
                Some(next) => {
                    return Err(format!(
                        "[show_sessions] meta's SHOW SESSIONS page ends at {:?} but continues \
                         after {next}",
                        page.records.last().map(|record| record.session)
                    ));
                }
                None => break,
            }
            if listed.len() > usize::try_from(self.meta.live_count()).unwrap_or(usize::MAX) {
                break;
            }
        }
        let live: Vec<SessionId> = self.meta.live_records().map(|record| record.session).collect();
        if listed != live || u32::try_from(live.len()).ok() != Some(self.meta.live_count()) {
            return Err(format!(
                "[show_sessions] meta's SHOW SESSIONS lists {listed:?}; expected its {} live \
                 sessions, by id: {live:?}",
                self.meta.live_count()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reply_needs_a_nebulagraph_code_and_a_message() {
        let failed = |code: i32, message: &str| Reply::ExecuteFailed {
            code,
            message: message.to_owned(),
            space_name: String::new(),
        };
        assert_eq!(
            check_reply_code(0, &failed(codes::E_SESSION_INVALID, "Session not found")),
            None
        );
        assert_eq!(check_reply_code(0, &failed(codes::E_EXECUTION_ERROR, "killed")), None);
        for (code, message) in [(-1, "x"), (1002, "x"), (0, "x"), (codes::E_EXECUTION_ERROR, "")] {
            let violation = check_reply_code(2, &failed(code, message));
            assert!(
                violation.is_some_and(|text| text.starts_with("[reply_code] node 2")),
                "{code}"
            );
        }
        let refused = Reply::AuthenticateFailed { code: -1, message: "no".to_owned() };
        assert!(check_reply_code(1, &refused).is_some());
    }
}
