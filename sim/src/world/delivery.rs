//! Messages arriving: a client's request at its node, a node's reply or a transport event at
//! its client, a node's round at meta and meta's answer back; and the effects each party asks
//! for carried out on the simulated network.

use graphsession_core::client::{
    Action, ConnectionId, E_EXECUTION_ERROR, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS, Event,
    LossReason, Request, RequestError, Response, TransportEvent,
};
use graphsession_core::cluster::{Answer, QueryKillResult};
use graphsession_core::server::QUERY_TIMED_OUT;
use graphsession_id_gen::SessionId;

use crate::world::accounting::Release;
use crate::world::checks::check_request_names_given_id;
use crate::world::client::Life;
use crate::world::marks::Mark;
use crate::world::network::Message;
use crate::world::node::{BUSY_EXECUTE, Send};
use crate::world::{Checked, ClusterWorld, Link, Socket, trace};

impl ClusterWorld {
    /// The process's sockets close (its kernel flushes what it wrote; replies are lost).
    /// The process's sockets close with it; each node sees its close after what was in flight.
    pub(super) fn close_sockets_of(&mut self, process: u32) {
        let closing: Vec<(ConnectionId, u16)> = (self.sockets.iter())
            .filter(|(_, socket)| socket.process == process && socket.open)
            .map(|(connection, socket)| (*connection, socket.node))
            .collect();
        for (connection, node) in closing {
            self.close_socket(connection, node);
        }
    }

    /// Socket `connection` to `node` closes on the client's side.
    fn close_socket(&mut self, connection: ConnectionId, node: u16) {
        let Some(socket) = self.sockets.get_mut(&connection) else { return };
        let was_open = socket.open;
        socket.open = false;
        if was_open {
            let delay = self.delay();
            let closed = Message::ClosedAtNode { node, connection };
            self.network.send(self.now_ms, delay, closed);
        }
    }

    pub(super) fn deliver_one_due(&mut self) -> Checked {
        match self.network.pop_due(self.now_ms) {
            Some(message) => self.deliver(message),
            None => Ok(()),
        }
    }

    pub(super) fn deliver(&mut self, message: Message) -> Checked {
        self.stats.delivered += 1;
        self.stats.events += 1;
        self.note("deliver", || trace::describe(&message));
        match message {
            Message::ToNode { node, connection, request } => {
                self.trace(1);
                self.trace(connection.0);
                let index = usize::from(node);
                let now = self.node_now(index);
                let sends = self.nodes[index].handle_request(
                    now,
                    &mut self.table,
                    connection,
                    request,
                    &mut self.choose,
                );
                self.apply_sends(index, sends)?;
            }
            Message::ClosedAtNode { node, connection } => {
                self.trace(5);
                self.trace(connection.0);
                let index = usize::from(node);
                let now = self.node_now(index);
                let sends = self.nodes[index].connection_closed(
                    now,
                    &mut self.table,
                    connection,
                    &mut self.choose,
                );
                self.apply_sends(index, sends)?;
            }
            Message::ToClient { connection, event } => {
                self.trace(2);
                self.trace(connection.0);
                self.deliver_to_client(connection, event)?;
            }
            Message::ToMeta { node, request, running } => {
                self.trace(3);
                self.deliver_to_meta(node, request, running)?;
            }
            Message::FromMeta { node, mut answer, produced_step } => {
                self.trace(4);
                let complete = matches!(
                    &answer,
                    Answer::Reply(reply) if !reply.more_changes
                );
                if self.twist.drop_kill_marks && node == 0 {
                    if let Answer::Reply(reply) = &mut answer {
                        reply.gone.clear();
                        reply.kills.clear();
                    }
                }
                let index = usize::from(node);
                let now = self.node_now(index);
                // An answer to a request of an earlier process of this node (sent before a
                // restart): meta told that process what it ended, and a session the new process
                // restored from an older snapshot is not in it. The new process learns of it from
                // the answer to its own first report, which this oracle judges.
                let to_this_process = answer.id().incarnation >= self.nodes[index].incarnation;
                let (sends, refused) =
                    self.nodes[index].handle_answer(now, &mut self.table, answer, &mut self.choose);
                // A full node refuses installs (-1010): legitimate only in seeds that limit a
                // node's sessions (it may have been full while the answer was applied).
                if refused > 0 && self.config.node_sessions_max == u64::MAX {
                    return Err(format!(
                        "node {node} refused {refused} installs from meta without a session \
                         limit; expected 0"
                    ));
                }
                self.apply_sends(index, sends)?;
                if complete && to_this_process {
                    self.check_answer_applied_kills(index, produced_step)?;
                }
            }
        }
        Ok(())
    }

    /// Node `node`'s `request` at meta (`running`: what its executor ran as it built the
    /// request's query report, if it carries one); the answer goes back on the network.
    fn deliver_to_meta(
        &mut self,
        node: u16,
        request: graphsession_core::cluster::Request,
        running: Option<Vec<graphsession_query_plan::QueryKey>>,
    ) -> Checked {
        let now = self.now_ms;
        self.dirty.meta = true;
        let sent = self.kill_refusals.sent(&request, running);
        let mut answer = self.meta.handle_request(now, self.nodes[usize::from(node)].id, request);
        if let (true, Answer::Reply(reply)) = (self.twist.refuse_query_kills, &mut answer) {
            for (_, result) in &mut reply.query_kills {
                if *result == QueryKillResult::Recorded {
                    *result = QueryKillResult::QueryNotFound;
                }
            }
        }
        self.judge_kill_refusals(usize::from(node), sent, &answer)?;
        if matches!(answer, Answer::Reply(_)) {
            self.note_meta_heard(usize::from(node));
        }
        let delay = self.delay();
        let produced_step = self.step;
        self.network.send(now, delay, Message::FromMeta { node, answer, produced_step });
        Ok(())
    }

    pub(super) fn deliver_to_client(
        &mut self,
        connection: ConnectionId,
        event: TransportEvent,
    ) -> Checked {
        let Some(socket) = self.sockets.get(&connection).copied() else {
            return Err(format!("event for unknown socket {connection:?}"));
        };
        let slot = usize::from(socket.client);
        let client = &mut self.clients[slot];
        if client.process != socket.process
            || client.life != Life::Running
            || socket.closed_by_client
        {
            return Ok(()); // the process is gone, or closed the socket: nobody reads it
        }
        match &event {
            TransportEvent::Response(Response::AuthenticateOk { session_id }) => {
                client.given.insert(*session_id);
                if let Some(session) = SessionId::new(*session_id) {
                    self.given_on.insert(session, (socket.client, socket.process, connection));
                    self.accounting.touched.push(session);
                }
            }
            TransportEvent::Response(Response::AuthenticateErr { code, .. }) => {
                self.marks.hit(Mark::AuthenticateRefused);
                if *code == E_SESSION_INVALID || *code == E_TOO_MANY_CONNECTIONS {
                    self.authenticates_busy[slot] += 1;
                }
            }
            _ => {}
        }
        let local = client.local_id(connection);
        client.transport(self.now_ms, local, event);
        self.pump_client(slot)
    }

    /// Writes `response` on `connection` if it is still open.
    pub(super) fn reply(&mut self, connection: ConnectionId, response: Response) {
        if self.sockets.get(&connection).is_some_and(|socket| socket.open) {
            let delay = self.delay();
            let event = TransportEvent::Response(response);
            self.network.send(self.now_ms, delay, Message::ToClient { connection, event });
        }
    }

    /// After any input to a node: sends what it decided, in order (replies to clients, its
    /// request to meta), checks the ids it issued, and notes the sessions that expired there.
    pub(super) fn apply_sends(&mut self, index: usize, mut sends: Vec<Send>) -> Checked {
        self.dirty.node(index);
        let node = u16::try_from(index).unwrap_or(0);
        for send in sends.drain(..) {
            match send {
                Send::Reply(connection, response) => self.reply(connection, response),
                Send::ToMeta { request, running } => {
                    let delay = self.delay();
                    let message = Message::ToMeta { node, request: *request, running };
                    self.network.send(self.now_ms, delay, message);
                }
            }
        }
        self.nodes[index].give_back_sends(sends);
        for session in self.nodes[index].take_created() {
            self.accounting.candidates.insert(session);
            self.touch_candidate(session);
            self.trace(u64::from_ne_bytes(session.get().to_ne_bytes()));
            self.issued.session(format_args!("node {node}"), session.get())?;
        }
        if !self.nodes[index].recently_expired.is_empty() {
            self.note_expired(index);
        }
        Ok(())
    }

    /// A node's timers (its sync round, long queries returning).
    pub(super) fn service_node(&mut self, index: usize) -> Checked {
        let now = self.node_now(index);
        let sends = self.nodes[index].on_timer(now, &mut self.table, &mut self.choose);
        self.apply_sends(index, sends)
    }

    /// Carries out a client's actions and drains its events.
    pub(super) fn pump_client(&mut self, slot: usize) -> Checked {
        self.dirty.client(slot);
        let slot_id = u16::try_from(slot).unwrap_or(0);
        loop {
            self.pump_actions(slot, slot_id)?;
            // A pool runs granted statements while its events drain: their actions come next.
            if !self.pump_events(slot, slot_id) {
                return Ok(());
            }
        }
    }

    /// Carries out a client's actions.
    pub(super) fn pump_actions(&mut self, slot: usize, slot_id: u16) -> Checked {
        loop {
            let client = &mut self.clients[slot];
            let Some(action) = client.poll_action() else { break };
            let (process, home) = (client.process, client.node);
            let connection = client.wire_id(action.connection());
            match action {
                Action::Dial { .. } => {
                    // With failover on, a dial may reach any node: a resumed session moves.
                    let node = if self.config.failover && self.choose.chance(1, 2) {
                        u16::try_from(self.choose.below(u64::from(self.config.nodes))).unwrap_or(0)
                    } else {
                        home
                    };
                    let socket = Socket {
                        client: slot_id,
                        process,
                        node,
                        open: true,
                        closed_by_client: false,
                    };
                    self.sockets.insert(connection, socket);
                    let cut = self.partitions.contains(&Link::ClientNode { client: slot_id, node });
                    self.network.hold(connection, cut);
                    let delay = self.delay();
                    let event = TransportEvent::Connected;
                    self.network.send(self.now_ms, delay, Message::ToClient { connection, event });
                }
                Action::Send { request, .. } => {
                    check_request_names_given_id(&self.clients[slot], slot, &request)?;
                    if matches!(request, Request::Authenticate { .. }) {
                        self.authenticates_sent[slot] += 1;
                    }
                    if let Request::SignOut { session_id } = &request {
                        self.note_sign_out(*session_id, connection);
                    }
                    let socket = self.sockets.get(&connection).copied();
                    if let Some(Socket { node, open: true, .. }) = socket {
                        let delay = self.delay();
                        let message = Message::ToNode { node, connection, request };
                        self.network.send(self.now_ms, delay, message);
                    }
                }
                Action::CloseSocket { .. } => {
                    if let Some(socket) = self.sockets.get_mut(&connection) {
                        socket.closed_by_client = true;
                        let node = socket.node;
                        self.close_socket(connection, node);
                    }
                }
            }
        }
        Ok(())
    }

    /// Drains a client's events; returns whether there were any.
    pub(super) fn pump_events(&mut self, slot: usize, slot_id: u16) -> bool {
        let pooled = self.clients[slot].is_pooled();
        let mut any = false;
        while let Some(event) = self.clients[slot].poll_event(self.now_ms) {
            any = true;
            self.note_release(usize::from(slot_id), &event);
            self.judge_told(usize::from(slot_id), &event);
            match &event {
                Event::Closed { abandoned } => {
                    self.stats.client_leaked += u64::try_from(abandoned.len()).unwrap_or(0);
                    if !abandoned.is_empty() {
                        self.marks.hit(Mark::SignOutAbandoned);
                    }
                }
                Event::ZombieDetected { .. } => {
                    self.stats.client_zombies += 1;
                    self.marks.hit(Mark::ZombieDetected);
                }
                Event::SessionLost { reason: LossReason::InvalidOnExecute, .. } => {
                    self.marks.hit(Mark::SessionLostOnExecute);
                }
                _ => {}
            }
            match &event {
                Event::Ready { .. } | Event::Result { .. } if self.healed => {
                    self.recovered.insert(slot_id);
                }
                // A statement that ran past its timeout was answered too: the server is live.
                Event::Failed {
                    error: RequestError::Server { code: E_EXECUTION_ERROR, message },
                    ..
                } if self.healed && message == QUERY_TIMED_OUT => {
                    self.recovered.insert(slot_id);
                }
                Event::Failed {
                    error: RequestError::Server { code: E_EXECUTION_ERROR, message },
                    ..
                } if message == BUSY_EXECUTE => self.recovery_refused_busy(slot_id),
                _ => {}
            }
            match &event {
                Event::Ready { .. } => {
                    self.stats.client_ready += 1;
                    if pooled {
                        self.marks.hit(Mark::PooledSessionReady);
                    }
                }
                Event::Result { .. } => self.stats.client_results += 1,
                Event::Failed { .. } => self.stats.client_failed += 1,
                _ => {}
            }
        }
        any
    }

    /// Reply oracles on what the application is told: a query whose executor saw the kill is
    /// never a result, and a -1002 is recovered by the client (the statement re-run where it is
    /// safe, or the session reported lost), never surfaced as a server error.
    fn judge_told(&mut self, slot: usize, event: &Event) {
        let violation = match event {
            Event::Result { result, .. } => {
                let plan = result.strip_prefix("ok ").and_then(|plan| plan.parse::<u64>().ok());
                let killed = plan
                    .filter(|plan| self.nodes.iter().any(|node| node.killed_plans.contains(plan)));
                killed.map(|plan| {
                    crate::oracles::killed_query_succeeded(
                        &format!("client {slot}"),
                        plan,
                        "its executor stopped at a kill",
                    )
                })
            }
            Event::Failed {
                error: RequestError::Server { code: E_SESSION_INVALID, message },
                ..
            } => Some(format!(
                "[session_error_surfaced] client {slot} told its application -1002 \
                     ({message}) as a statement error; expected the client to recover (re-run or \
                     report the session lost)"
            )),
            _ => None,
        };
        if violation.is_some() && self.accounting.pending.is_none() {
            self.accounting.pending = violation;
        }
    }

    /// A client let a session go: why, for the accounting oracle.
    fn note_release(&mut self, slot: usize, event: &Event) {
        let (session, release) = match event {
            Event::SignedOut { session_id } => (*session_id, Release::SignedOut),
            Event::SessionLost { session_id, .. } => (*session_id, Release::Lost),
            Event::SessionExpired { session_id } => (*session_id, Release::Expired),
            Event::SignOutOverflow { session_id, .. } => (*session_id, Release::Overflow),
            Event::Closed { abandoned } if !abandoned.is_empty() => {
                return self.judge_abandoned(slot, abandoned);
            }
            _ => return,
        };
        self.accounting.released.insert(session, release);
        self.touch_candidate(session);
    }

    /// A sign-out went out: a mark if on another socket than its session's creation.
    pub(super) fn note_sign_out(&mut self, session: SessionId, connection: ConnectionId) {
        if let Some(&(_, _, created_on)) = self.given_on.get(&session) {
            if created_on != connection {
                self.marks.hit(Mark::SignOutAfterReconnect);
            }
        }
        self.sign_outs_sent.insert(session);
    }

    /// Sessions a node saw expire: a mark for those whose client process was killed.
    pub(super) fn note_expired(&mut self, index: usize) {
        for session in std::mem::take(&mut self.nodes[index].recently_expired) {
            let Some(&(slot, process, _)) = self.given_on.get(&session) else { continue };
            let client = &self.clients[usize::from(slot)];
            if client.process != process || client.life == Life::Killed {
                self.marks.hit(Mark::OrphanExpired);
            }
        }
    }
}
