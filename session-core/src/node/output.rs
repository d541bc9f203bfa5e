//! What a graph node asks its host to do, drained with
//! [`GraphNode::poll_output`](crate::node::GraphNode::poll_output) in order.

use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryKey;

use crate::client::ConnectionId;
use crate::cluster::Request as MetaRequest;
use crate::node::reply::Reply;
use crate::server::{Event as RegistryEvent, QueryStart};

/// One effect for the host, in the order the node decided it.
#[derive(Debug)]
pub enum Output {
    /// Write `reply` on `connection` (if it is still open; a reply to a closed connection is
    /// dropped by the host, never redirected).
    Reply {
        /// The connection the request came on.
        connection: ConnectionId,
        /// The reply.
        reply: Reply,
    },
    /// Send this request to meta. At most one is in flight: the node sends the next only after
    /// an answer ([`GraphNode::handle_answer`](crate::node::GraphNode::handle_answer)) or its
    /// timeout.
    ToMeta(MetaRequest),
    /// Run a user query: hand `query` (its kill handle and its caller, whose rights the
    /// statement's permission check must use) to the executor, and when it returns call
    /// [`GraphNode::finish_query`](crate::node::GraphNode::finish_query) or
    /// [`GraphNode::fail_query`](crate::node::GraphNode::fail_query), always: until then the
    /// session never idles.
    Run {
        /// The connection to answer on.
        connection: ConnectionId,
        /// The registered query.
        query: QueryStart,
        /// The statement text.
        statement: String,
    },
    /// Store (or replace) `user`'s password in the host's password store, hashed; the node
    /// answered the CREATE USER or ALTER USER that set it.
    SetPassword {
        /// The user.
        user: String,
        /// The password in clear; the host hashes it and forgets it. Redacted from `Debug`.
        password: Secret,
    },
    /// Forget `user`'s password (DROP USER succeeded).
    ForgetPassword {
        /// The user.
        user: String,
    },
    /// Something the host may log, count or check.
    Event(Event),
}

/// A string that never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What happened on a graph node, for logs, metrics and the simulator's oracles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Login created `session` for the request on `connection`; its reply waits for meta's
    /// registration.
    SessionCreated {
        /// The new session.
        session: SessionId,
        /// The connection that asked.
        connection: ConnectionId,
    },
    /// The registry's audit trail (every session change and refused login).
    Registry(RegistryEvent),
    /// A kill mark from meta hit `key`, running here.
    QueryKilledByMeta {
        /// The query.
        key: QueryKey,
    },
    /// An execute named a session not held here: the node asked meta for it.
    PickUpAsked {
        /// The session.
        session: SessionId,
    },
}
