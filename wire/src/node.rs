//! From wire requests to the node's [`Request`]s, as far as the wire allows: the host adds the
//! password check's outcome and the parsed statement.

use graphsession_core::node::{Request, Statement};
use graphsession_core::server::PasswordCheck;

use crate::request::WireRequest;

impl WireRequest {
    /// The node's request when the wire alone determines it: `VerifyClientVersion` and
    /// `SignOut`. `None` for `Authenticate` (the host checks the password first:
    /// [`login_request`]) and `Execute` (the host parses the statement first:
    /// [`execute_request`]).
    #[must_use]
    pub fn direct_node_request(&self) -> Option<Request> {
        match self {
            WireRequest::VerifyClientVersion { version } => {
                Some(Request::VerifyClientVersion { version: version.clone() })
            }
            WireRequest::SignOut { session_id } => {
                Some(Request::SignOut { session_id: *session_id })
            }
            WireRequest::Authenticate { .. } | WireRequest::Execute { .. } => None,
        }
    }
}

/// `authenticate`'s node request, once the host checked `username`'s password against its
/// store (on the bytes as sent). The name reaches the node lossily decoded: a name that is not
/// UTF-8 was never created by a statement, so its check is `UnknownUser` unless authorization
/// is off, where any name is accepted anyway.
#[must_use]
pub fn login_request(username: &[u8], password: PasswordCheck, client_ip: &str) -> Request {
    Request::Authenticate {
        user: String::from_utf8_lossy(username).into_owned(),
        client_ip: client_ip.to_owned(),
        password,
    }
}

/// An execute's node request, once the host parsed its statement text.
#[must_use]
pub fn execute_request(session_id: i64, statement: Statement) -> Request {
    Request::Execute { session_id, statement }
}
