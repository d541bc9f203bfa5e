//! One client connection, as a task: bytes read from the socket go to the connection's
//! `ServerCodec`; each call becomes one request to the actor, and the next call is taken only
//! when the reply to this one was written (the node's replies name the connection, not the
//! request, so order per connection is the host's to keep). A `signout` is handed to the actor
//! and never answered. A frame the codec refuses, an idle timeout or a write error closes this
//! connection alone; the actor is told, always.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use graphsession_core::client::{ConnectionId, E_EXECUTION_ERROR};
use graphsession_core::node::Reply;
use graphsession_core::server::PasswordCheck;
use graphsession_wire::login_request;
use graphsession_wire::{Call, Config as WireConfig, FrameError, ServerCodec, WireRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot, watch};

use crate::actor::{Incoming, Message, NodeIndex};
use crate::logging::log;
use crate::passwords::{Passwords, verify};

/// How much one read takes from the socket.
const READ_BYTES: usize = 64 << 10;

/// What every connection of one node shares.
#[derive(Debug)]
pub struct Shared {
    /// The node.
    pub node: NodeIndex,
    /// The actor.
    pub actor: mpsc::UnboundedSender<Message>,
    /// The password store (read-only here).
    pub passwords: Arc<Passwords>,
    /// `--enable_authorize`: without it NebulaGraph skips the password check.
    pub enable_authorize: bool,
    /// The codec's limits.
    pub wire: WireConfig,
    /// `--client_idle_timeout_secs`.
    pub client_idle: Duration,
    /// `--unauthenticated_idle_timeout_secs`.
    pub unauthenticated_idle: Duration,
    /// `--verbose`.
    pub verbose: bool,
}

/// Why a connection closed.
#[derive(Debug)]
enum Closing {
    /// The client closed it.
    ByClient,
    /// graphd is stopping.
    Stopping,
    /// The codec refused its bytes.
    Frame(FrameError),
    /// It was silent too long.
    Idle { authenticated: bool },
    /// Reading or writing failed.
    Io(std::io::Error),
}

/// Serves one connection until it closes.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    connection: ConnectionId,
    shutdown: watch::Receiver<bool>,
) {
    let mut served = Served { shared: &shared, peer, connection, shutdown, authenticated: false };
    let closing = served.run(stream).await;
    match &closing {
        Closing::ByClient | Closing::Stopping => {}
        Closing::Frame(error) => log!("node {}: closed {peer}: {error}", shared.node + 1),
        Closing::Idle { authenticated } if shared.verbose || !authenticated => {
            log!("node {}: closed {peer}: idle (authenticated: {authenticated})", shared.node + 1);
        }
        Closing::Idle { .. } => {}
        Closing::Io(error) => {
            if shared.verbose {
                log!("node {}: closed {peer}: {error}", shared.node + 1);
            }
        }
    }
    let _actor_gone = shared.actor.send(Message::Closed { node: shared.node, connection });
}

struct Served<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    connection: ConnectionId,
    shutdown: watch::Receiver<bool>,
    /// A login succeeded on this connection.
    authenticated: bool,
}

impl Served<'_> {
    async fn run(&mut self, stream: TcpStream) -> Closing {
        let Ok(mut codec) = ServerCodec::new(self.shared.wire) else { return Closing::Stopping };
        let (mut reader, mut writer) = stream.into_split();
        let mut buffer = vec![0_u8; READ_BYTES];
        loop {
            while let Some(call) = codec.poll_request() {
                let call = match call {
                    Ok(call) => call,
                    Err(error) => return Closing::Frame(error),
                };
                if let Err(closing) = self.answer(&codec, call, &mut writer).await {
                    return closing;
                }
            }
            let idle = match self.authenticated {
                true => self.shared.client_idle,
                false => self.shared.unauthenticated_idle,
            };
            let mut shutdown = self.shutdown.clone();
            let read = tokio::select! {
                read = tokio::time::timeout(idle, reader.read(&mut buffer)) => read,
                _ = shutdown.wait_for(|stopping| *stopping) => return Closing::Stopping,
            };
            match read {
                Err(_elapsed) => return Closing::Idle { authenticated: self.authenticated },
                Ok(Err(error)) => return Closing::Io(error),
                Ok(Ok(0)) => return Closing::ByClient,
                Ok(Ok(read)) => codec.handle_bytes(&buffer[..read]),
            }
        }
    }

    /// One call: asked of the actor, answered on the socket (never for a sign-out).
    async fn answer(
        &mut self,
        codec: &ServerCodec,
        call: Call,
        writer: &mut OwnedWriteHalf,
    ) -> Result<(), Closing> {
        let started = tokio::time::Instant::now();
        let Some(reply) = self.ask(call.request).await? else { return Ok(()) };
        if matches!(reply, Reply::Authenticated { .. }) {
            self.authenticated = true;
        }
        // A call sent one-way still waited for its reply (so no later reply is taken for it),
        // but gets none on the wire.
        let Some(reply_to) = call.reply_to else { return Ok(()) };
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let bytes = codec.encode_reply(&reply_to, &as_the_graph_service_answers(reply), latency_us);
        writer.write_all(&bytes).await.map_err(Closing::Io)
    }

    /// Hands the request to the actor and waits for the node's reply; `None` for a sign-out.
    async fn ask(&mut self, request: WireRequest) -> Result<Option<Reply>, Closing> {
        let incoming = match request {
            WireRequest::Authenticate { username, password } => {
                let check = self.password_check(&username, password).await;
                Incoming::Node(login_request(&username, check, &self.peer.ip().to_string()))
            }
            WireRequest::Execute { session_id, statement, parameters, .. } => Incoming::Execute {
                session_id,
                text: statement,
                parameters: parameters.unwrap_or_default(),
            },
            direct => match direct.direct_node_request() {
                Some(request) => Incoming::Node(request),
                None => return Err(Closing::Stopping),
            },
        };
        let signs_out =
            matches!(incoming, Incoming::Node(graphsession_core::node::Request::SignOut { .. }));
        let (node, connection) = (self.shared.node, self.connection);
        if signs_out {
            let message = Message::Request { node, connection, incoming, reply: None };
            self.shared.actor.send(message).map_err(|_| Closing::Stopping)?;
            return Ok(None);
        }
        let (reply, replied) = oneshot::channel();
        let message = Message::Request { node, connection, incoming, reply: Some(reply) };
        self.shared.actor.send(message).map_err(|_| Closing::Stopping)?;
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            reply = replied => reply.map(Some).map_err(|_| Closing::Stopping),
            _ = shutdown.wait_for(|stopping| *stopping) => Err(Closing::Stopping),
        }
    }

    /// The login's password against the store, off the event loop (Argon2id is slow on
    /// purpose). Without `--enable_authorize` NebulaGraph checks nothing.
    async fn password_check(&self, username: &[u8], password: Vec<u8>) -> PasswordCheck {
        if !self.shared.enable_authorize {
            return PasswordCheck::Skipped;
        }
        let Some(stored) =
            std::str::from_utf8(username).ok().and_then(|user| self.shared.passwords.stored(user))
        else {
            return PasswordCheck::UnknownUser;
        };
        let checked = tokio::task::spawn_blocking(move || verify(&stored, &password)).await;
        match checked {
            Ok(true) => PasswordCheck::Verified,
            Ok(false) | Err(_) => PasswordCheck::Rejected,
        }
    }
}

/// NebulaGraph's graph service shows a statement refused by meta (or failed in any executor
/// without a code of its own) as `E_EXECUTION_ERROR` (-1005) with the refusal's message; only its
/// own codes (-1000 to -1999: syntax, semantic, permission, session...) reach the client as they
/// are (its `QueryInstance::onError`). Its acceptance tests check exactly that: "Existed!",
/// "User not existed!", "Improper role!", "SessionId[..] does not exist" are ExecutionErrors
/// (`User.feature`, `KillSlowQueryBaseTest.feature`). The node answers with meta's own code
/// (-2002, -18, -2030, -2069, ...); here it becomes the graph service's, the message unchanged.
pub fn as_the_graph_service_answers(reply: Reply) -> Reply {
    const GRAPH_SERVICE_CODES: std::ops::RangeInclusive<i32> = -1999..=-1000;
    match reply {
        Reply::ExecuteFailed { code, message, space_name }
            if !GRAPH_SERVICE_CODES.contains(&code) =>
        {
            Reply::ExecuteFailed { code: E_EXECUTION_ERROR, message, space_name }
        }
        other => other,
    }
}
