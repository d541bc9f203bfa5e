//! The background task of one pool (a [`Session`](crate::Session) is a pool of one): it owns
//! the sans-I/O [`SessionPool`], the sockets and the timer, and carries out exactly what the
//! pool asks, in order. When every user handle is gone it closes the pool, so every session is
//! signed out (the machines' outbox, delivered and proven here) before the task ends.

mod commands;
mod output;

pub(crate) use commands::{Command, Release};
pub(crate) use output::Output;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use graphsession_core::client::{
    Action, ConnectionId, Event, Handle, LeaseId, MemberId, Metrics, PoolEvent, Request, RequestId,
    SessionPool, State, TransportEvent, WaiterId,
};
use graphsession_wire::{ClientCodecConfig, ClientReply, Parameters, WireRequest};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Error;
use crate::connection::{Connection, SocketEvent};

/// Socket events queued for the driver, at most (the sockets' tasks wait when it is full).
const SOCKET_EVENTS_QUEUED_MAX: usize = 256;

/// A user request awaiting its result.
struct Pending {
    reply: oneshot::Sender<Result<Output, Error>>,
    parameters: Option<Parameters>,
    json: bool,
}

/// Where the driver's sockets go.
pub(crate) struct Endpoints {
    pub(crate) addresses: Vec<SocketAddr>,
    pub(crate) codec: ClientCodecConfig,
    pub(crate) connect_timeout: Duration,
}

/// The task's state.
pub(crate) struct Driver {
    pool: SessionPool,
    epoch: Instant,
    endpoints: Endpoints,
    /// The address the next dial goes to; moves on after every failed or lost socket.
    next_address: usize,
    connections: BTreeMap<ConnectionId, Connection>,
    handles: BTreeMap<LeaseId, Handle>,
    waiters: BTreeMap<WaiterId, oneshot::Sender<Result<LeaseId, Error>>>,
    requests: BTreeMap<(MemberId, RequestId), Pending>,
    /// The reply just fed to the pool: the result of the `Event::Result` it produces.
    last_reply: Option<ClientReply>,
    socket_events: mpsc::Sender<(ConnectionId, SocketEvent)>,
    close_waiters: Vec<oneshot::Sender<Metrics>>,
}

impl Driver {
    /// Runs `pool` until it is closed and its sessions signed out.
    pub(crate) async fn run(
        pool: SessionPool,
        endpoints: Endpoints,
        mut commands: mpsc::Receiver<Command>,
        mut releases: mpsc::Receiver<Release>,
    ) {
        let (socket_events, mut socket_rx) = mpsc::channel(SOCKET_EVENTS_QUEUED_MAX);
        let mut driver = Driver {
            pool,
            epoch: Instant::now(),
            endpoints,
            next_address: 0,
            connections: BTreeMap::new(),
            handles: BTreeMap::new(),
            waiters: BTreeMap::new(),
            requests: BTreeMap::new(),
            last_reply: None,
            socket_events,
            close_waiters: Vec::new(),
        };
        let now = driver.now_ms();
        driver.pool.open(now);
        driver.pump();
        let mut users = true;
        while !driver.pool.is_closed() {
            let deadline = driver.pool.poll_timeout().map(|ms| driver.epoch + ms_duration(ms));
            tokio::select! {
                command = commands.recv(), if users => match command {
                    Some(command) => driver.command(command),
                    None => {
                        users = false;
                        let now = driver.now_ms();
                        driver.pool.close(now);
                    }
                },
                Some(release) = releases.recv() => driver.release(release),
                Some((connection, event)) = socket_rx.recv() => driver.socket(connection, event),
                () = sleep_until(deadline) => {
                    let now = driver.now_ms();
                    driver.pool.handle_timeout(now);
                }
            }
            driver.pump();
        }
        driver.finish();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A socket's report, fed to the pool.
    fn socket(&mut self, connection: ConnectionId, event: SocketEvent) {
        if !self.connections.contains_key(&connection) {
            return; // already closed by the pool: stale
        }
        let event = match event {
            SocketEvent::Connected => TransportEvent::Connected,
            SocketEvent::ConnectFailed => {
                self.fail_over();
                TransportEvent::ConnectFailed
            }
            SocketEvent::Closed => {
                self.fail_over();
                TransportEvent::Closed
            }
            SocketEvent::Reply(reply) => match reply.to_machine_response() {
                Some(response) => {
                    self.last_reply = Some(*reply);
                    TransportEvent::Response(response)
                }
                None => TransportEvent::Closed,
            },
        };
        let now = self.now_ms();
        self.pool.handle_transport(now, connection, event);
    }

    /// The next dial goes to the next address: the session is resumed there with the same id
    /// (NebulaGraph keeps sessions in meta, not in sockets).
    fn fail_over(&mut self) {
        self.next_address = (self.next_address + 1) % self.endpoints.addresses.len().max(1);
    }

    /// Carries out every action and hands every event on, in order.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.pool.poll_action() {
                progressed = true;
                self.act(action);
            }
            while let Some(event) = self.pool.poll_event() {
                progressed = true;
                self.event(event);
            }
            while let Some((waiter, handle)) = self.pool.poll_grant() {
                progressed = true;
                self.grant(waiter, handle);
            }
            if !progressed {
                return;
            }
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Dial { connection } => {
                let Some(&address) = self.endpoints.addresses.get(self.next_address) else {
                    return;
                };
                let socket = Connection::spawn(
                    connection,
                    address,
                    self.endpoints.codec,
                    self.endpoints.connect_timeout,
                    self.socket_events.clone(),
                );
                self.connections.insert(connection, socket);
            }
            Action::Send { connection, request } => {
                let wire = self.wire_request(connection, request);
                let written = self.connections.get(&connection).is_some_and(|c| c.write(wire));
                if !written {
                    let now = self.now_ms();
                    self.pool.handle_transport(now, connection, TransportEvent::Closed);
                }
            }
            Action::CloseSocket { connection } => {
                self.connections.remove(&connection);
            }
        }
    }

    /// The wire call of a machine request; a user execute gets its parameters and JSON flag
    /// (the machine names the request in flight on that socket).
    fn wire_request(&self, connection: ConnectionId, request: Request) -> WireRequest {
        match request {
            Request::Authenticate { user, password } => WireRequest::Authenticate {
                username: user.into_bytes(),
                password: password.into_bytes(),
            },
            Request::SignOut { session_id } => {
                WireRequest::SignOut { session_id: session_id.get() }
            }
            Request::Execute { session_id, statement } => {
                let member = MemberId(u32::try_from(connection.0 >> 32).unwrap_or(u32::MAX));
                let in_flight = match self.pool.member(member).map(|machine| machine.state()) {
                    Some(State::AwaitingReply { connection: on, request, .. })
                        if *on == connection =>
                    {
                        self.requests.get(&(member, request.id))
                    }
                    _ => None,
                };
                WireRequest::Execute {
                    session_id,
                    statement,
                    parameters: in_flight.and_then(|pending| pending.parameters.clone()),
                    json: in_flight.is_some_and(|pending| pending.json),
                }
            }
        }
    }

    fn event(&mut self, event: PoolEvent) {
        match event {
            PoolEvent::Member { member, event } => self.member_event(member, event),
            PoolEvent::WaitTimedOut { waiter } => {
                if let Some(reply) = self.waiters.remove(&waiter) {
                    let _gone = reply.send(Err(Error::AcquireTimedOut));
                }
            }
            PoolEvent::WaitCancelled { waiter } => {
                if let Some(reply) = self.waiters.remove(&waiter) {
                    let _gone = reply.send(Err(Error::Closed));
                }
            }
            PoolEvent::Retired { member, .. } => {
                self.handles.retain(|lease, _| lease.member != member);
            }
            PoolEvent::Granted { .. } | PoolEvent::LeakDetected { .. } | PoolEvent::Closed => {}
        }
    }

    fn member_event(&mut self, member: MemberId, event: Event) {
        match event {
            Event::Result { request, .. } => {
                let reply = self.last_reply.take();
                if let Some(pending) = self.requests.remove(&(member, request)) {
                    let _gone = pending.reply.send(Output::of(reply, pending.json));
                }
            }
            Event::PingAnswered { request, outcome } => {
                if let Some(pending) = self.requests.remove(&(member, request)) {
                    let _gone = pending.reply.send(Ok(Output::Ping(outcome)));
                }
            }
            Event::Failed { request, error } => {
                if let Some(pending) = self.requests.remove(&(member, request)) {
                    let _gone = pending.reply.send(Err(Error::Request(error)));
                }
            }
            Event::OpenFailed { error } => {
                // Bad credentials or a refused USE never get better: waiters hear it now.
                for (_, reply) in std::mem::take(&mut self.waiters) {
                    let _gone = reply.send(Err(Error::Open(error.clone())));
                }
            }
            _ => {}
        }
    }

    fn grant(&mut self, waiter: WaiterId, handle: Handle) {
        let lease = handle.lease();
        match self.waiters.remove(&waiter) {
            Some(reply) if !reply.is_closed() => {
                self.handles.insert(lease, handle);
                let _gone = reply.send(Ok(lease));
            }
            // The caller gave up waiting: the session goes straight back.
            _ => {
                let now = self.now_ms();
                self.pool.release(now, handle, graphsession_core::client::Release::Reuse);
            }
        }
    }

    /// Every caller still waiting hears that the pool closed.
    fn finish(&mut self) {
        for (_, reply) in std::mem::take(&mut self.waiters) {
            let _gone = reply.send(Err(Error::Closed));
        }
        for (_, pending) in std::mem::take(&mut self.requests) {
            let _gone = pending.reply.send(Err(Error::Closed));
        }
        let metrics = self.pool.metrics();
        for waiter in self.close_waiters.drain(..) {
            let _gone = waiter.send(metrics.clone());
        }
        self.connections.clear();
    }
}

fn ms_duration(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
