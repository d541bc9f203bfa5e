//! The client machine's reference model: a scripted server and a reference ledger (a `BTreeSet`
//! with the obvious rules) in a [`World`] that drives a real `SessionMachine`, asserting every
//! promise of the machine after every step. Shared by `client_properties.rs` (proptest) and the
//! fuzz target `client_machine` (included with `#[path]`).

use graphsession_core::client::{
    Action, ClientConfig, ConnectionId, Event, Idempotency, InvalidSessionPolicy, ReconnectPolicy,
    Request, Response, SessionMachine, TransportEvent,
};
use graphsession_id_gen::SessionId;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub(crate) enum Reply {
    AuthOk(i64),
    AuthErr(i32),
    ExecOk,
    ExecErr(i32),
}

impl Reply {
    fn response(&self) -> Response {
        match *self {
            Reply::AuthOk(session_id) => Response::AuthenticateOk { session_id },
            Reply::AuthErr(code) => Response::AuthenticateErr { code, message: "no".into() },
            Reply::ExecOk => Response::ExecuteOk { result: "ok".into() },
            Reply::ExecErr(code) => Response::ExecuteErr { code, message: "no".into() },
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Open,
    Execute(Idempotency),
    Ping,
    UseSpace,
    Close,
    ForceClose,
    Transport(TransportEvent),
    Reply(Reply),
    Serve,
    StaleReply(Reply),
    Advance(u64),
    FireNext,
    Regress(u64),
}

/// The shape of one case's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) space: bool,
    pub(crate) replace: bool,
    pub(crate) close_on_invalid: bool,
    /// A one-entry outbox and a budget of two, to reach overflow and budget refusals.
    pub(crate) tight: bool,
}

pub(crate) fn test_config(shape: Shape) -> ClientConfig {
    let Shape { space, replace, close_on_invalid, tight } = shape;
    ClientConfig {
        user: "alice".into(),
        space: space.then(|| "g".to_owned()),
        execute_timeout_ms: 20_000,
        keepalive_interval_ms: 60_000,
        zombie_check_interval_ms: 5_000,
        zombie_disconnected_max_ms: 10_000,
        failures_max: 6,
        server_idle_timeout_ms: 200_000,
        expiry_margin_ms: 1_000,
        sign_out_outbox_max: if tight { 1 } else { 3 },
        sign_out_retry_backoff_initial_ms: if tight { 10_000 } else { 200 },
        sessions_per_user_ip_node_max: if tight { 2 } else { 6 },
        execute_queue_max: 4,
        reconnect_policy: if replace { ReconnectPolicy::Replace } else { ReconnectPolicy::Resume },
        invalid_session_policy: if close_on_invalid {
            InvalidSessionPolicy::Close
        } else {
            InvalidSessionPolicy::Replace
        },
        ..ClientConfig::default()
    }
}

/// The machine, a scripted server, and the reference model of the ledger.
pub(crate) struct World {
    pub(crate) machine: SessionMachine,
    expiry_after_ms: u64,
    now_ms: u64,
    /// The request each socket awaits a reply to (sign-outs have none).
    awaiting: BTreeMap<ConnectionId, Request>,
    dialled: Vec<ConnectionId>,
    closed_sockets: BTreeSet<ConnectionId>,
    /// Reference ledger: ids the server gave, not yet justified gone.
    owned: BTreeSet<SessionId>,
    last_use_ms: BTreeMap<SessionId, u64>,
    sign_out_sent: BTreeMap<SessionId, (ConnectionId, u64)>,
    proven: BTreeSet<SessionId>,
    invalidated: BTreeSet<SessionId>,
    /// Orders writes and replies, to tell what a reply proves.
    sequence: u64,
    close_called: bool,
    closed_event_seen: bool,
    server_sessions: BTreeSet<i64>,
    server_next_id: i64,
}

impl World {
    pub(crate) fn new(config: ClientConfig) -> World {
        let expiry_after_ms = config.server_idle_timeout_ms + config.expiry_margin_ms;
        World {
            machine: SessionMachine::new(config).unwrap(),
            expiry_after_ms,
            now_ms: 0,
            awaiting: BTreeMap::new(),
            dialled: Vec::new(),
            closed_sockets: BTreeSet::new(),
            owned: BTreeSet::new(),
            last_use_ms: BTreeMap::new(),
            sign_out_sent: BTreeMap::new(),
            proven: BTreeSet::new(),
            invalidated: BTreeSet::new(),
            sequence: 0,
            close_called: false,
            closed_event_seen: false,
            server_sessions: BTreeSet::new(),
            server_next_id: 100,
        }
    }

    pub(crate) fn apply(&mut self, op: &Op) {
        let now = self.now_ms;
        let current = self.machine.state().connection();
        match op {
            Op::Open => drop(self.machine.open(now)),
            Op::Execute(idempotency) => {
                drop(self.machine.execute(now, "INSERT x", *idempotency));
            }
            Op::Ping => drop(self.machine.ping(now)),
            Op::UseSpace => drop(self.machine.use_space(now, "h")),
            Op::Close => {
                self.close_called = true;
                self.machine.close(now);
            }
            Op::ForceClose => {
                self.close_called = true;
                self.machine.force_close(now);
            }
            Op::Transport(event) => {
                if let Some(connection) = current.or(self.dialled.last().copied()) {
                    self.machine.handle_transport(now, connection, event.clone());
                }
            }
            Op::Reply(reply) => {
                if let Some(connection) = current {
                    self.deliver(connection, reply.response());
                }
            }
            Op::Serve => self.serve(),
            Op::StaleReply(reply) => {
                if let Some(&old) = self.dialled.iter().find(|&&c| Some(c) != current) {
                    self.deliver(old, reply.response());
                }
            }
            Op::Advance(ms) => {
                self.now_ms += ms;
                self.machine.handle_timeout(self.now_ms);
            }
            Op::FireNext => {
                if let Some(at_ms) = self.machine.poll_timeout() {
                    self.now_ms = self.now_ms.max(at_ms);
                    self.machine.handle_timeout(self.now_ms);
                }
            }
            Op::Regress(ms) => self.machine.handle_timeout(now.saturating_sub(*ms)),
        }
        if matches!(op, Op::Advance(_) | Op::FireNext | Op::Regress(_)) {
            // Everything due was handled: no deadline left at or before now (no busy loop).
            let next = self.machine.poll_timeout();
            assert!(next.is_none_or(|at_ms| at_ms > self.now_ms), "due deadline {next:?} left");
        }
        self.observe();
    }

    /// Answers like a healthy server: connects a dialling socket, or answers the request in flight.
    fn serve(&mut self) {
        let Some(connection) = self.machine.state().connection() else { return };
        match self.awaiting.get(&connection).cloned() {
            Some(request) => {
                let response = match request {
                    Request::Authenticate { .. } => {
                        let id = self.server_next_id;
                        self.server_next_id += 1;
                        self.server_sessions.insert(id);
                        Response::AuthenticateOk { session_id: id }
                    }
                    Request::Execute { session_id, .. }
                        if self.server_sessions.contains(&session_id) =>
                    {
                        Response::ExecuteOk { result: "ok".into() }
                    }
                    Request::Execute { .. } | Request::SignOut { .. } => {
                        Response::ExecuteErr { code: -1002, message: "invalid".into() }
                    }
                };
                self.deliver(connection, response);
            }
            None => {
                let event = TransportEvent::Connected;
                self.machine.handle_transport(self.now_ms, connection, event);
            }
        }
    }

    /// Delivers a reply, first recording in the reference model what it proves.
    fn deliver(&mut self, connection: ConnectionId, response: Response) {
        self.sequence += 1;
        if self.machine.state().connection() == Some(connection) {
            if let Some(request) = self.awaiting.remove(&connection) {
                self.record_reply(&request, &response);
            }
            for (&id, &(sent_on, sent_at)) in &self.sign_out_sent {
                if sent_on == connection && sent_at < self.sequence {
                    self.proven.insert(id);
                }
            }
        }
        let event = TransportEvent::Response(response);
        self.machine.handle_transport(self.now_ms, connection, event);
    }

    fn record_reply(&mut self, request: &Request, response: &Response) {
        match (request, response) {
            (Request::Authenticate { .. }, Response::AuthenticateOk { session_id }) => {
                if let Some(id) = SessionId::from_wire(*session_id) {
                    self.owned.insert(id);
                    self.last_use_ms.insert(id, self.now_ms);
                    self.sign_out_sent.remove(&id);
                    self.proven.remove(&id);
                    self.invalidated.remove(&id);
                }
            }
            (Request::Execute { session_id, .. }, response) => {
                let Some(id) = SessionId::from_wire(*session_id) else { return };
                self.last_use_ms.insert(id, self.now_ms);
                if matches!(response, Response::ExecuteErr { code: -1002, .. }) {
                    self.invalidated.insert(id);
                }
            }
            _ => {}
        }
    }

    fn certainly_expired(&self, id: SessionId) -> bool {
        self.last_use_ms.get(&id).is_some_and(|&last| self.now_ms >= last + self.expiry_after_ms)
    }

    fn observe(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            assert!(!self.closed_event_seen, "{action:?} after the Closed event");
            self.observe_action(action);
        }
        while let Some(event) = self.machine.poll_event() {
            if matches!(event, Event::Closed { .. }) {
                assert!(!self.closed_event_seen, "two Closed events");
                self.closed_event_seen = true;
            }
        }
        if let Err(violation) = self.machine.check_invariants() {
            panic!("{violation} in {:?}", self.machine.state());
        }
        self.compare_ledgers();
        if self.machine.is_closed() {
            let dialled: BTreeSet<_> = self.dialled.iter().copied().collect();
            assert_eq!(dialled, self.closed_sockets, "a socket left open");
        }
    }

    fn observe_action(&mut self, action: Action) {
        match action {
            Action::Dial { connection } => {
                assert!(!self.dialled.contains(&connection), "{connection:?} dialled twice");
                self.dialled.push(connection);
            }
            Action::CloseSocket { connection } => {
                assert!(self.dialled.contains(&connection), "closing an unknown socket");
                assert!(self.closed_sockets.insert(connection), "{connection:?} closed twice");
                if let Some(Request::Execute { session_id, .. }) = self.awaiting.remove(&connection)
                {
                    if let Some(id) = SessionId::from_wire(session_id) {
                        self.last_use_ms.insert(id, self.now_ms);
                    }
                }
            }
            Action::Send { connection, request } => {
                assert!(self.dialled.contains(&connection), "write on an unknown socket");
                assert!(!self.closed_sockets.contains(&connection), "write on a closed socket");
                self.observe_send(connection, request);
            }
        }
    }

    fn observe_send(&mut self, connection: ConnectionId, request: Request) {
        match &request {
            Request::Authenticate { .. } => {
                assert!(!self.close_called, "authenticate after close");
            }
            Request::Execute { session_id: 0, .. } => {}
            Request::Execute { session_id, .. } => {
                let id = SessionId::from_wire(*session_id).expect("a non-zero id");
                assert!(!self.close_called, "execute after close");
                assert!(self.owned.contains(&id), "execute with {id}, never given by the server");
                assert!(!self.invalidated.contains(&id), "execute with {id} after its -1002");
                assert!(!self.sign_out_sent.contains_key(&id), "execute with {id} after sign-out");
                assert!(!self.certainly_expired(id), "execute with expired {id}");
                self.last_use_ms.insert(id, self.now_ms);
            }
            Request::SignOut { session_id } => {
                assert!(self.owned.contains(session_id), "sign-out of unknown {session_id}");
                self.sequence += 1;
                self.sign_out_sent.insert(*session_id, (connection, self.sequence));
                self.server_sessions.remove(&session_id.get());
                return;
            }
        }
        self.awaiting.insert(connection, request);
    }

    fn compare_ledgers(&mut self) {
        let ledger: BTreeSet<SessionId> = self.machine.ledger().ids().into_iter().collect();
        let invented: Vec<_> = ledger.difference(&self.owned).collect();
        assert!(invented.is_empty(), "ledger has ids the server never gave: {invented:?}");
        let departed: Vec<SessionId> = self.owned.difference(&ledger).copied().collect();
        for id in departed {
            let justified = self.proven.contains(&id)
                || self.invalidated.contains(&id)
                || self.certainly_expired(id);
            assert!(justified, "{id} left the ledger without proof");
            self.owned.remove(&id);
            self.sign_out_sent.remove(&id);
            self.proven.remove(&id);
            self.invalidated.remove(&id);
        }
    }

    /// Close, then a healthy server: the machine must close with nothing left to sign out.
    pub(crate) fn liveness(&mut self) {
        // A close already under way may legitimately run out of time; judge only a fresh one.
        let was_open = self.machine.state().is_open();
        self.close_called = true;
        self.machine.close(self.now_ms);
        self.observe();
        for _ in 0..200 {
            if self.machine.is_closed() {
                break;
            }
            let connection = self.machine.state().connection();
            if connection.is_some() {
                self.serve();
                self.observe();
            } else {
                self.apply(&Op::FireNext);
            }
        }
        assert!(self.machine.is_closed(), "not closed: {:?}", self.machine.state());
        if was_open {
            // Every known id was signed out. Authenticates whose reply was lost stay counted (as
            // unknown) until they expire: their ids were never learned, so they cannot be.
            assert_eq!(self.machine.ledger().ids(), Vec::<SessionId>::new());
        }
    }
}
