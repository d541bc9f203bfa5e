//! Shared support for the client tests: a harness that drives a `SessionMachine` step by step, logs
//! every action and event, and checks the machine's invariants after every step; a pool harness
//! doing the same for a `SessionPool`; and a scripted server that answers like NebulaGraph.

#![allow(dead_code, reason = "each test file uses a different subset of the helpers")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers fail loudly")]

pub(crate) mod machine_model;
pub(crate) mod pool_model;

use graphsession_core::client::{
    Action, ClientConfig, ConnectionId, Event, PoolConfig, PoolEvent, Request, Response,
    SessionMachine, SessionPool, State, TransportEvent,
};
use std::collections::BTreeSet;

/// The test user's configuration: production defaults, user "alice".
pub(crate) fn config() -> ClientConfig {
    ClientConfig { user: "alice".into(), password: "pw".into(), ..ClientConfig::default() }
}

pub(crate) fn ok() -> Response {
    Response::ExecuteOk { result: "ok".into() }
}

pub(crate) fn exec_err(code: i32) -> Response {
    Response::ExecuteErr { code, message: format!("error {code}") }
}

pub(crate) fn auth_ok(session_id: i64) -> Response {
    Response::AuthenticateOk { session_id }
}

pub(crate) fn auth_err(code: i32) -> Response {
    Response::AuthenticateErr { code, message: format!("error {code}") }
}

/// The requests among `actions`, with their socket.
pub(crate) fn sends(actions: &[Action]) -> Vec<(ConnectionId, Request)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { connection, request } => Some((*connection, request.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn dials(actions: &[Action]) -> Vec<ConnectionId> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Dial { connection } => Some(*connection),
            _ => None,
        })
        .collect()
}

pub(crate) fn socket_closes(actions: &[Action]) -> Vec<ConnectionId> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::CloseSocket { connection } => Some(*connection),
            _ => None,
        })
        .collect()
}

pub(crate) fn authenticates(actions: &[Action]) -> usize {
    sends(actions).iter().filter(|(_, r)| matches!(r, Request::Authenticate { .. })).count()
}

pub(crate) fn sign_outs(actions: &[Action]) -> Vec<i64> {
    sends(actions)
        .iter()
        .filter_map(|(_, request)| match request {
            Request::SignOut { session_id } => Some(session_id.get()),
            _ => None,
        })
        .collect()
}

pub(crate) fn executes(actions: &[Action]) -> Vec<(i64, String)> {
    sends(actions)
        .into_iter()
        .filter_map(|(_, request)| match request {
            Request::Execute { session_id, statement } => Some((session_id, statement)),
            _ => None,
        })
        .collect()
}

/// Drives one machine; every step drains its output and checks its invariants.
pub(crate) struct Harness {
    pub(crate) machine: SessionMachine,
    pub(crate) now_ms: u64,
    /// Every action so far.
    pub(crate) log: Vec<Action>,
    /// Every event so far.
    pub(crate) event_log: Vec<Event>,
    fresh_actions: Vec<Action>,
    fresh_events: Vec<Event>,
}

impl Harness {
    pub(crate) fn new(config: ClientConfig) -> Harness {
        let machine = SessionMachine::new(config).expect("valid config");
        Harness {
            machine,
            now_ms: 0,
            log: Vec::new(),
            event_log: Vec::new(),
            fresh_actions: Vec::new(),
            fresh_events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.log.push(action.clone());
            self.fresh_actions.push(action);
        }
        while let Some(event) = self.machine.poll_event() {
            self.event_log.push(event.clone());
            self.fresh_events.push(event);
        }
        if let Err(violation) = self.machine.check_invariants() {
            panic!("{violation} in state {:?}", self.machine.state());
        }
    }

    pub(crate) fn open(&mut self) {
        self.machine.open(self.now_ms).unwrap();
        self.drain();
    }

    pub(crate) fn close(&mut self) {
        self.machine.close(self.now_ms);
        self.drain();
    }

    pub(crate) fn force_close(&mut self) {
        self.machine.force_close(self.now_ms);
        self.drain();
    }

    pub(crate) fn execute(
        &mut self,
        statement: &str,
        idempotency: graphsession_core::client::Idempotency,
    ) -> graphsession_core::client::RequestId {
        let id = self.machine.execute(self.now_ms, statement, idempotency).unwrap();
        self.drain();
        id
    }

    pub(crate) fn ping(&mut self) -> graphsession_core::client::RequestId {
        let id = self.machine.ping(self.now_ms).unwrap();
        self.drain();
        id
    }

    pub(crate) fn use_space(
        &mut self,
        space: &str,
    ) -> Result<graphsession_core::client::RequestId, graphsession_core::client::CommandError> {
        let result = self.machine.use_space(self.now_ms, space);
        self.drain();
        result
    }

    pub(crate) fn transport(&mut self, connection: ConnectionId, event: TransportEvent) {
        self.machine.handle_transport(self.now_ms, connection, event);
        self.drain();
    }

    pub(crate) fn connected(&mut self, connection: ConnectionId) {
        self.transport(connection, TransportEvent::Connected);
    }

    pub(crate) fn reply(&mut self, connection: ConnectionId, response: Response) {
        self.transport(connection, TransportEvent::Response(response));
    }

    pub(crate) fn socket_lost(&mut self, connection: ConnectionId) {
        self.transport(connection, TransportEvent::Closed);
    }

    /// Moves time to `now_ms` and fires what is due.
    pub(crate) fn timeout_at(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.machine.handle_timeout(now_ms);
        self.drain();
    }

    /// Moves time to the next deadline and fires it; returns the time.
    pub(crate) fn fire_next_timeout(&mut self) -> u64 {
        let at_ms = self.machine.poll_timeout().expect("a deadline");
        self.timeout_at(at_ms.max(self.now_ms));
        self.now_ms
    }

    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.fresh_actions)
    }

    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.fresh_events)
    }

    /// The machine's current socket.
    pub(crate) fn current(&self) -> ConnectionId {
        self.machine.state().connection().expect("a socket")
    }

    /// The last socket the machine asked to dial.
    pub(crate) fn last_dial(&self) -> ConnectionId {
        *dials(&self.log).last().expect("a dial")
    }

    /// Opens (if needed), connects, authenticates as `session_id` and selects the configured space.
    /// Returns the socket; the machine is ready.
    pub(crate) fn establish(&mut self, session_id: i64) -> ConnectionId {
        if matches!(self.machine.state(), State::AwaitingOpen) {
            self.open();
        }
        let connection = self.last_dial();
        self.connected(connection);
        self.serve_until_ready(connection, session_id);
        connection
    }

    /// On a connected socket: answers authenticate with `session_id` and USE with ok.
    pub(crate) fn serve_until_ready(&mut self, connection: ConnectionId, session_id: i64) {
        let mut rounds = 0;
        while !matches!(self.machine.state(), State::Ready { .. }) {
            rounds += 1;
            assert!(rounds < 10, "not ready: {:?}", self.machine.state());
            let reply = match self.machine.state() {
                State::AwaitingAuthenticate { .. } => auth_ok(session_id),
                State::AwaitingSignOutProof { .. } => exec_err(-1002),
                State::AwaitingUseSpace { .. } | State::AwaitingProbe { .. } => ok(),
                other => panic!("cannot serve state {other:?}"),
            };
            self.reply(connection, reply);
        }
        self.take_actions();
        self.take_events();
    }

    /// Every socket dialled was closed exactly once.
    pub(crate) fn assert_no_socket_leak(&self) {
        let dialled: BTreeSet<_> = dials(&self.log).into_iter().collect();
        let closes = socket_closes(&self.log);
        let closed: BTreeSet<_> = closes.iter().copied().collect();
        assert_eq!(closes.len(), closed.len(), "a socket closed twice: {closes:?}");
        assert_eq!(dialled, closed, "dialled and closed sockets differ");
    }
}

/// A scripted NebulaGraph: issues session ids from 100, answers execute with the session's state,
/// ignores unknown sign-outs.
#[derive(Debug, Default)]
pub(crate) struct Server {
    pub(crate) next_session_id: i64,
    pub(crate) sessions: BTreeSet<i64>,
    pub(crate) signed_out: Vec<i64>,
    pub(crate) authenticates: u32,
}

impl Server {
    pub(crate) fn new() -> Server {
        Server { next_session_id: 100, ..Server::default() }
    }

    pub(crate) fn answer(&mut self, request: &Request) -> Option<Response> {
        match request {
            Request::Authenticate { .. } => {
                self.authenticates += 1;
                let id = self.next_session_id;
                self.next_session_id += 1;
                self.sessions.insert(id);
                Some(auth_ok(id))
            }
            Request::Execute { session_id, .. } if self.sessions.contains(session_id) => Some(ok()),
            Request::Execute { .. } => Some(exec_err(-1002)),
            Request::SignOut { session_id } => {
                self.sessions.remove(&session_id.get());
                self.signed_out.push(session_id.get());
                None
            }
        }
    }
}

/// Carries out the machine's actions against `server` until it asks for nothing more.
pub(crate) fn run(harness: &mut Harness, server: &mut Server) {
    for _ in 0..1_000 {
        let actions = harness.take_actions();
        if actions.is_empty() {
            return;
        }
        for action in actions {
            match action {
                Action::Dial { connection } => harness.connected(connection),
                Action::Send { connection, request } => {
                    if let Some(reply) = server.answer(&request) {
                        harness.reply(connection, reply);
                    }
                }
                Action::CloseSocket { .. } => {}
            }
        }
    }
    panic!("the machine never went quiet");
}

/// Drives one pool, like [`Harness`], answering with a [`Server`] on demand.
pub(crate) struct PoolHarness {
    pub(crate) pool: SessionPool,
    pub(crate) now_ms: u64,
    pub(crate) log: Vec<Action>,
    pub(crate) events: Vec<PoolEvent>,
    pub(crate) server: Server,
    fresh_actions: Vec<Action>,
}

impl PoolHarness {
    pub(crate) fn new(config: PoolConfig) -> PoolHarness {
        PoolHarness {
            pool: SessionPool::new(config).expect("valid pool config"),
            now_ms: 0,
            log: Vec::new(),
            events: Vec::new(),
            server: Server::new(),
            fresh_actions: Vec::new(),
        }
    }

    pub(crate) fn drain(&mut self) {
        while let Some(action) = self.pool.poll_action() {
            self.log.push(action.clone());
            self.fresh_actions.push(action);
        }
        while let Some(event) = self.pool.poll_event() {
            self.events.push(event);
        }
        if let Err(violation) = self.pool.check_invariants() {
            panic!("{violation}: {:?}", self.pool.stats());
        }
    }

    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.fresh_actions)
    }

    /// Puts actions back to be carried out later, in order.
    pub(crate) fn push_actions(&mut self, actions: impl IntoIterator<Item = Action>) {
        self.fresh_actions.extend(actions);
    }

    /// Carries out actions against the scripted server until quiet.
    pub(crate) fn run(&mut self) {
        self.drain();
        for _ in 0..1_000 {
            let actions = self.take_actions();
            if actions.is_empty() {
                return;
            }
            for action in actions {
                match action {
                    Action::Dial { connection } => {
                        self.pool.handle_transport(
                            self.now_ms,
                            connection,
                            TransportEvent::Connected,
                        );
                    }
                    Action::Send { connection, request } => {
                        if let Some(reply) = self.server.answer(&request) {
                            let event = TransportEvent::Response(reply);
                            self.pool.handle_transport(self.now_ms, connection, event);
                        }
                    }
                    Action::CloseSocket { .. } => {}
                }
                self.drain();
            }
        }
        panic!("the pool never went quiet");
    }

    pub(crate) fn timeout_at(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.pool.handle_timeout(now_ms);
        self.drain();
    }
}

/// A session id from a literal.
pub(crate) fn sid(id: i64) -> graphsession_id_gen::SessionId {
    graphsession_id_gen::SessionId::new(id).unwrap()
}

/// The send of a sign-out of session `id` on `connection`.
pub(crate) fn sign_out(connection: ConnectionId, id: i64) -> (ConnectionId, Request) {
    (connection, Request::SignOut { session_id: sid(id) })
}

/// The send of a session-0 ping on `connection`.
pub(crate) fn ping(connection: ConnectionId) -> (ConnectionId, Request) {
    (connection, Request::ping())
}
