//! What meta and the registry report, turned into replies: registered logins answered, picked-up
//! sessions' executes run, held connections released, waiting statements finished.

use graphsession_id_gen::SessionId;
use graphsession_permission::RoleTable;

use crate::client::{ConnectionId, E_SESSION_INVALID};
use graphsession_permission::may_see_queries_of;
use graphsession_query_plan::{QueryKey, QueryRow};

use crate::cluster::{ListedQuery, NodeEvent, QueryKillResult};
use crate::node::GraphNode;
use crate::node::output::{Event, Output};
use crate::node::reply::{DataSet, Reply};
use crate::server::{Change, Event as RegistryEvent, ServerError};

impl GraphNode {
    pub(crate) fn apply_sync_events(&mut self, now: u64, table: &mut RoleTable) {
        while let Some(event) = self.sync.poll_event() {
            match event {
                NodeEvent::Registered { session } => self.registered(now, session),
                NodeEvent::PickedUp { session } => {
                    for (connection, statement) in
                        self.waiting.pick_ups.remove(&session).unwrap_or_default()
                    {
                        self.execute(now, connection, session.get(), statement, table);
                    }
                }
                NodeEvent::PickUpFailed { session } => self.fail_pick_ups(session),
                NodeEvent::Gone { session, .. } => {
                    self.fail_confirmations(session);
                    if let Some(connection) = self.waiting.registrations.remove(&session) {
                        let reply = Reply::AuthenticateFailed {
                            code: E_SESSION_INVALID,
                            message: format!("Create session failed: {session} refused"),
                        };
                        self.reply(connection, reply);
                    }
                }
                NodeEvent::QueryKilled { key } => {
                    self.outputs.push_back(Output::Event(Event::QueryKilledByMeta { key }));
                }
                NodeEvent::Removed { session, removed } => {
                    self.removed(now, session, removed, table);
                }
                NodeEvent::QueryKillAnswered { key, result } => {
                    self.kill_answered(key, result, now)
                }
                NodeEvent::Sessions(page) => self.sessions_page(&page, now),
                NodeEvent::Queries(listed) => self.queries_listed(&listed, now),
                NodeEvent::Shown { asked, records } => self.sessions_shown(&asked, &records, now),
                NodeEvent::Reloaded | NodeEvent::Refused(_) => {}
            }
        }
    }

    /// Meta registered a session created here: its authenticate is answered now. Like any
    /// request's end, that resets the idle timer (else a slow registration eats the timeout).
    fn registered(&mut self, now: u64, session: SessionId) {
        let Some(connection) = self.waiting.registrations.remove(&session) else { return };
        self.registry_changed = true;
        if self.registry.touch(now, session.get()).is_err() {
            // Ended here meanwhile, before its end's event took the registration: never claim it.
            return self.reply(connection, ended_before_ready(session));
        }
        let reply = Reply::Authenticated {
            session_id: session.get(),
            time_zone_offset_seconds: 0,
            time_zone_name: String::new(),
        };
        self.reply(connection, reply);
    }

    /// Meta acknowledged the removal of `session`: connections held behind its sign-out go on
    /// with the requests they queued; a KILL SESSION waiting for it counts it.
    fn removed(&mut self, now: u64, session: SessionId, removed: bool, table: &mut RoleTable) {
        let released: Vec<ConnectionId> = (self.waiting.sign_outs.iter())
            .filter(|(_, (signed_out, _))| *signed_out == session)
            .map(|(connection, _)| *connection)
            .collect();
        for connection in released {
            let Some((_, waiting)) = self.waiting.sign_outs.remove(&connection) else { continue };
            for request in waiting {
                self.request(now, connection, request, table);
            }
        }
        let done: Vec<(ConnectionId, graphsession_query_plan::QueryKey)> =
            (self.waiting.kill_sessions.iter_mut())
                .filter_map(|(key, wait)| {
                    if wait.remaining.remove(&session) && removed {
                        wait.killed = wait.killed.saturating_add(1);
                    }
                    wait.remaining.is_empty().then_some(*key)
                })
                .collect();
        for key in done {
            let Some(wait) = self.waiting.kill_sessions.remove(&key) else { continue };
            self.finish_statement(
                now,
                key.0,
                wait.statement,
                Some(DataSet::killed_sessions(wait.killed)),
            );
        }
    }

    fn kill_answered(
        &mut self,
        key: graphsession_query_plan::QueryKey,
        result: QueryKillResult,
        now: u64,
    ) {
        let waiting: Vec<(ConnectionId, graphsession_query_plan::QueryKey)> =
            (self.waiting.kill_queries.iter())
                .filter(|(_, statement)| statement.target == Some(key))
                .map(|(waiting, _)| *waiting)
                .collect();
        for waiting in waiting {
            let Some(statement) = self.waiting.kill_queries.remove(&waiting) else { continue };
            let connection = waiting.0;
            match result {
                QueryKillResult::Recorded => {
                    self.finish_statement(now, connection, statement, None)
                }
                refused => {
                    let message = match refused {
                        QueryKillResult::SessionNotFound => {
                            format!("SessionId[{}] does not exist", key.session)
                        }
                        QueryKillResult::QueryNotFound => format!(
                            "ExecutionPlanId[{}] does not exist in Session[{}].",
                            key.plan, key.session
                        ),
                        QueryKillResult::PermissionDenied => {
                            "PermissionError: Only GOD role could kill others' queries.".to_owned()
                        }
                        _ => "Too many kill marks wait in the meta service".to_owned(),
                    };
                    self.fail_statement(now, connection, statement, refused.code(), &message);
                }
            }
        }
    }

    fn sessions_page(&mut self, page: &crate::cluster::Page, now: u64) {
        let waiting = std::mem::take(&mut self.waiting.show_sessions);
        if waiting.is_empty() {
            return;
        }
        let rows: Vec<crate::server::SessionRow> = (page.records.iter())
            .map(|record| {
                let addr = self.graph_addr_of(record.owner);
                crate::cluster::session_row(record, addr)
            })
            .collect();
        for ((connection, _), statement) in waiting {
            self.finish_statement(now, connection, statement, Some(DataSet::sessions(&rows)));
        }
    }

    /// Meta's records of sessions SHOW SESSION asked for (not held here) arrived: each waiting
    /// SHOW SESSION of an asked session shows its record, or answers as for a session nowhere.
    fn sessions_shown(
        &mut self,
        asked: &[SessionId],
        records: &[crate::cluster::SessionRecord],
        now: u64,
    ) {
        let answered: Vec<(ConnectionId, QueryKey)> = (self.waiting.show_session.iter())
            .filter(|(_, wait)| asked.contains(&wait.session))
            .map(|(key, _)| *key)
            .collect();
        for key in answered {
            let Some(wait) = self.waiting.show_session.remove(&key) else { continue };
            let found = records.iter().find(|record| record.session == wait.session);
            match found {
                Some(record) => {
                    let row = crate::cluster::session_row(record, self.graph_addr_of(record.owner));
                    let rows = Some(DataSet::sessions(&[row]));
                    self.finish_statement(now, key.0, wait.statement, rows);
                }
                None => {
                    let error = ServerError::ShowSessionNotFound { session: wait.session.get() };
                    let message = error.to_string();
                    self.fail_statement(now, key.0, wait.statement, error.code(), &message);
                }
            }
        }
    }

    /// The cluster's queries arrived: each waiting SHOW QUERIES lists this node's running
    /// queries (fresh, from the registry) and the other live nodes' as they last reported them,
    /// each filtered for its caller (fix 7), by session and plan.
    fn queries_listed(&mut self, listed: &[ListedQuery], now: u64) {
        let waiting = std::mem::take(&mut self.waiting.show_queries);
        if waiting.is_empty() {
            return;
        }
        let policy = self.registry.config().policy;
        let now_unix_us = now.saturating_mul(1_000);
        for ((connection, _), wait) in waiting {
            let mut rows = self.registry.show_queries(now, &wait.caller);
            let remote = (listed.iter())
                .filter(|listed| listed.node != self.settings.node_id)
                .filter(|listed| may_see_queries_of(&wait.caller, policy, &listed.user))
                .map(|listed| QueryRow {
                    session_id: listed.query.key.session,
                    execution_plan_id: listed.query.key.plan,
                    user: listed.user.clone(),
                    host: self.graph_addr_of(listed.node),
                    start_time_unix_us: listed.query.start_time_unix_us,
                    duration_us: now_unix_us.saturating_sub(listed.query.start_time_unix_us),
                    status: listed.query.status,
                    query: listed.query.statement.clone(),
                });
            rows.extend(remote);
            rows.sort_by_key(|row| (row.session_id, row.execution_plan_id));
            rows.dedup_by_key(|row| (row.session_id, row.execution_plan_id));
            let rows = DataSet::queries(&rows);
            self.finish_statement(now, connection, wait.statement, Some(rows));
        }
    }

    /// The registry's events go to the host. A session that ended here before meta registered
    /// it (a KILL SESSION by id, its user dropped) has its authenticate answered -1002 at once:
    /// its connection is open (a closed one took its registration with it), and a client left
    /// without an answer would wait out its own timeout for a session that is gone.
    pub(crate) fn apply_registry_events(&mut self) {
        while let Some(event) = self.registry.poll_event() {
            self.registry_changed = true;
            if let RegistryEvent::Session { change: Change::Ended { .. }, session, .. } = &event
                && let Some(connection) = self.waiting.registrations.remove(session)
            {
                self.reply(connection, ended_before_ready(*session));
            }
            self.outputs.push_back(Output::Event(Event::Registry(event)));
        }
    }

    pub(crate) fn graph_addr_of(&self, node: crate::cluster::NodeId) -> String {
        if node == self.settings.node_id {
            return self.registry.config().graph_addr.clone();
        }
        self.settings.peer_addrs.get(&node).cloned().unwrap_or_else(|| format!("node-{}", node.0))
    }
}

/// The answer to an authenticate whose session ended here before meta registered it.
fn ended_before_ready(session: SessionId) -> Reply {
    Reply::AuthenticateFailed {
        code: E_SESSION_INVALID,
        message: format!("Create session failed: session {session} ended before it was ready"),
    }
}
