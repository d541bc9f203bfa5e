//! The legacy client: the public Node.js client's session handling before the fixes this project
//! makes (`../shared/reference/nebulagraph-clients.md`, failure modes 1, 3, 6, 9 and 10).
//!
//! - close signs out only when the socket is up, fire and forget (a reset in flight loses it);
//! - a reset socket is redialled after a delay and authenticates a **new** session, forgetting the
//!   old id without signing it out;
//! - close while disconnected leaves the reconnect timer armed: it logs in again after close;
//! - -1002 is an ordinary error: the dead session is kept and every later statement fails;
//! - no keepalive, no zombie check.
//!
//! The simulator must catch its leaks and zombies; the real machine, in the same worlds, must not
//! be caught.

use std::collections::VecDeque;

use graphsession_core::client::{
    Action, ConnectionId, Event, ReadyOrigin, Request, RequestError, RequestId, Response,
    TransportError, TransportEvent,
};
use graphsession_id_gen::SessionId;

/// How long the legacy client waits before redialling a lost socket.
const RECONNECT_DELAY_MS: u64 = 1_000;

/// Where the legacy client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyState {
    /// Not opened yet.
    Idle,
    /// Dialled `connection`; waiting for the socket.
    Connecting {
        /// The socket.
        connection: ConnectionId,
    },
    /// Authenticate sent on `connection`; waiting for the reply.
    Authenticating {
        /// The socket.
        connection: ConnectionId,
    },
    /// Holds `session` on `connection`.
    Ready {
        /// The socket.
        connection: ConnectionId,
        /// The session.
        session: SessionId,
    },
    /// The socket is gone; redials at `at_ms` (even after close: failure mode 6).
    WaitingToReconnect {
        /// When it redials.
        at_ms: u64,
    },
    /// Closed by the application (a reconnect timer may still fire).
    Closed,
}

/// The legacy client of one process.
#[derive(Debug)]
pub struct LegacyClient {
    /// A variant for tests: close cancels the pending reconnect (so it never logs in after
    /// close), while it still neither signs out when disconnected nor signs the old session out
    /// when it reconnects: only the leaks remain for the oracles to find.
    close_cancels_reconnect: bool,
    user: String,
    prefix: u64,
    next_connection: u64,
    next_request: u64,
    state: LegacyState,
    /// Set once the application closed the client.
    closed: bool,
    /// A reconnect armed before close still fires (failure mode 6).
    reconnect_at_ms: Option<u64>,
    /// Requests written on the current socket, in order (replies come in order).
    in_flight: VecDeque<RequestId>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl LegacyClient {
    /// A legacy client logging in as `user`, with connection ids `process << 32 | n`.
    pub fn new(user: &str, process: u32, close_cancels_reconnect: bool) -> LegacyClient {
        LegacyClient {
            close_cancels_reconnect,
            user: user.to_owned(),
            prefix: u64::from(process) << 32,
            next_connection: 1,
            next_request: 1,
            state: LegacyState::Idle,
            closed: false,
            reconnect_at_ms: None,
            in_flight: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Where it stands.
    pub fn state(&self) -> LegacyState {
        self.state
    }

    /// The session it holds, if any.
    pub fn session(&self) -> Option<SessionId> {
        match self.state {
            LegacyState::Ready { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Whether the application closed it.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn dial(&mut self) {
        let connection = ConnectionId(self.prefix | self.next_connection);
        self.next_connection += 1;
        self.state = LegacyState::Connecting { connection };
        self.actions.push_back(Action::Dial { connection });
    }

    fn next_request(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    /// Opens: dials once.
    pub fn open(&mut self) {
        if self.state == LegacyState::Idle && !self.closed {
            self.dial();
        }
    }

    /// Runs `statement` on the held session, or fails at once if none is ready.
    pub fn execute(&mut self, statement: String) -> RequestId {
        let request = self.next_request();
        match self.state {
            LegacyState::Ready { connection, session } if !self.closed => {
                let wire = Request::Execute { session_id: session.get(), statement };
                self.actions.push_back(Action::Send { connection, request: wire });
                self.in_flight.push_back(request);
            }
            _ => self.events.push_back(Event::Failed {
                request,
                error: RequestError::Transport(TransportError::Closed),
            }),
        }
        request
    }

    /// Closes: signs out only if the socket is up (fire and forget), then forgets everything.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.close_cancels_reconnect {
            self.reconnect_at_ms = None;
        }
        if let LegacyState::Ready { connection, session } = self.state {
            self.actions.push_back(Action::Send {
                connection,
                request: Request::SignOut { session_id: session },
            });
            self.actions.push_back(Action::CloseSocket { connection });
        } else if let LegacyState::Connecting { connection }
        | LegacyState::Authenticating { connection } = self.state
        {
            self.actions.push_back(Action::CloseSocket { connection });
        }
        self.fail_in_flight();
        self.state = LegacyState::Closed;
    }

    fn connection(&self) -> Option<ConnectionId> {
        match self.state {
            LegacyState::Connecting { connection }
            | LegacyState::Authenticating { connection }
            | LegacyState::Ready { connection, .. } => Some(connection),
            LegacyState::Idle | LegacyState::WaitingToReconnect { .. } | LegacyState::Closed => {
                None
            }
        }
    }

    /// A transport event on `connection`.
    pub fn handle_transport(
        &mut self,
        now_ms: u64,
        connection: ConnectionId,
        event: TransportEvent,
    ) {
        if self.connection() != Some(connection) {
            return; // an old socket
        }
        match event {
            TransportEvent::Connected => {
                let request = Request::Authenticate {
                    user: self.user.clone(),
                    password: "secret".to_owned(),
                };
                self.actions.push_back(Action::Send { connection, request });
                self.state = LegacyState::Authenticating { connection };
            }
            TransportEvent::ConnectFailed | TransportEvent::Closed | TransportEvent::TimedOut => {
                // Failure mode 3: the old session is forgotten; the redial logs in anew.
                self.fail_in_flight();
                self.reconnect_at_ms = Some(now_ms + RECONNECT_DELAY_MS);
                self.state = LegacyState::WaitingToReconnect { at_ms: now_ms + RECONNECT_DELAY_MS };
            }
            TransportEvent::Response(response) => self.handle_response(connection, response),
        }
    }

    fn handle_response(&mut self, connection: ConnectionId, response: Response) {
        match (self.state, response) {
            (LegacyState::Authenticating { .. }, Response::AuthenticateOk { session_id }) => {
                match SessionId::new(session_id) {
                    Some(session) => {
                        self.state = LegacyState::Ready { connection, session };
                        self.events.push_back(Event::Ready {
                            session_id: session,
                            origin: ReadyOrigin::Created,
                        });
                    }
                    None => self.state = LegacyState::Idle,
                }
            }
            (LegacyState::Authenticating { .. }, Response::AuthenticateErr { .. }) => {
                self.actions.push_back(Action::CloseSocket { connection });
                self.state = LegacyState::Idle;
            }
            (LegacyState::Ready { .. }, Response::ExecuteOk { result }) => {
                if let Some(request) = self.in_flight.pop_front() {
                    self.events.push_back(Event::Result { request, result });
                }
            }
            // Failure mode 10: -1002 is just an error; the dead session stays.
            (LegacyState::Ready { .. }, Response::ExecuteErr { code, message }) => {
                if let Some(request) = self.in_flight.pop_front() {
                    let error = RequestError::Server { code, message };
                    self.events.push_back(Event::Failed { request, error });
                }
            }
            _ => {}
        }
    }

    fn fail_in_flight(&mut self) {
        for request in self.in_flight.drain(..) {
            let error = RequestError::Transport(TransportError::Closed);
            self.events.push_back(Event::Failed { request, error });
        }
    }

    /// Fires the reconnect timer if due: redials, even after close (failure mode 6).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.reconnect_at_ms.is_some_and(|at| at <= now_ms) {
            self.reconnect_at_ms = None;
            self.dial();
        }
    }

    /// The reconnect timer.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.reconnect_at_ms
    }

    /// The next action for the host.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
