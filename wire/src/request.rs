//! What a connection asks, as values: the `GraphService` method, its decoded arguments, and
//! how to frame its reply.

use std::collections::BTreeMap;
use std::fmt;

use nebula_fbthrift_common_v3::types::Value as WireValue;

use crate::framing::{Framing, Protocol};

/// `executeWithParameter`'s parameters: names (UTF-8) to NebulaGraph values, as the generated
/// types hold them (lists, maps, dates, vertices, ...).
pub type Parameters = BTreeMap<String, WireValue>;

/// A `GraphService` method, by the name the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `verifyClientVersion`.
    VerifyClientVersion,
    /// `authenticate`.
    Authenticate,
    /// `signout` (one-way in the IDL; never answered).
    SignOut,
    /// `execute`.
    Execute,
    /// `executeWithParameter`.
    ExecuteWithParameter,
    /// `executeJson`.
    ExecuteJson,
    /// `executeJsonWithParameter`.
    ExecuteJsonWithParameter,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 7] = [
        Method::VerifyClientVersion,
        Method::Authenticate,
        Method::SignOut,
        Method::Execute,
        Method::ExecuteWithParameter,
        Method::ExecuteJson,
        Method::ExecuteJsonWithParameter,
    ];

    /// The name on the wire.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Method::VerifyClientVersion => "verifyClientVersion",
            Method::Authenticate => "authenticate",
            Method::SignOut => "signout",
            Method::Execute => "execute",
            Method::ExecuteWithParameter => "executeWithParameter",
            Method::ExecuteJson => "executeJson",
            Method::ExecuteJsonWithParameter => "executeJsonWithParameter",
        }
    }

    /// The method of a wire name (exact, case-sensitive, as fbthrift dispatches).
    #[must_use]
    pub fn from_name(name: &[u8]) -> Option<Method> {
        Method::ALL.into_iter().find(|method| method.name().as_bytes() == name)
    }

    /// Whether the reply is NebulaGraph's JSON document instead of an `ExecutionResponse`.
    #[must_use]
    pub fn is_json(self) -> bool {
        matches!(self, Method::ExecuteJson | Method::ExecuteJsonWithParameter)
    }

    /// Whether the third argument is a parameter map.
    #[must_use]
    pub fn has_parameters(self) -> bool {
        matches!(self, Method::ExecuteWithParameter | Method::ExecuteJsonWithParameter)
    }

    pub(crate) fn is_execute(self) -> bool {
        matches!(
            self,
            Method::Execute
                | Method::ExecuteWithParameter
                | Method::ExecuteJson
                | Method::ExecuteJsonWithParameter
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded request.
#[derive(Clone, PartialEq)]
pub enum WireRequest {
    /// `verifyClientVersion(VerifyClientVersionReq{version})`.
    VerifyClientVersion {
        /// The client's version, for example `"3.0.0"`.
        version: String,
    },
    /// `authenticate(username, password)`: bytes as sent; the host checks them against its
    /// store ([`login_request`](crate::login_request)). The password never appears in `Debug`.
    Authenticate {
        /// The user name's bytes.
        username: Vec<u8>,
        /// The password's bytes.
        password: Vec<u8>,
    },
    /// `execute`, `executeWithParameter`, `executeJson` or `executeJsonWithParameter`.
    Execute {
        /// Any value may arrive (0 is the clients' ping).
        session_id: i64,
        /// The statement text for the host's parser. Invalid UTF-8 is refused
        /// ([`FrameError::NotUtf8`](crate::FrameError::NotUtf8)) rather than replaced: no
        /// official client sends it, and replacing bytes would silently change what runs.
        statement: String,
        /// The parameter map, for the `WithParameter` variants.
        parameters: Option<Parameters>,
        /// The `Json` variants: the reply is NebulaGraph's JSON document.
        json: bool,
    },
    /// `signout(session_id)`: never answered.
    SignOut {
        /// The session to end.
        session_id: i64,
    },
}

impl fmt::Debug for WireRequest {
    // Written by hand so that a password never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireRequest::VerifyClientVersion { version } => {
                f.debug_struct("VerifyClientVersion").field("version", version).finish()
            }
            WireRequest::Authenticate { username, .. } => f
                .debug_struct("Authenticate")
                .field("username", &String::from_utf8_lossy(username))
                .field("password", &"<redacted>")
                .finish(),
            WireRequest::Execute { session_id, statement, parameters, json } => f
                .debug_struct("Execute")
                .field("session_id", session_id)
                .field("statement", statement)
                .field("parameters", parameters)
                .field("json", json)
                .finish(),
            WireRequest::SignOut { session_id } => {
                f.debug_struct("SignOut").field("session_id", session_id).finish()
            }
        }
    }
}

/// How to frame the reply to one call: the connection's framing, the message's protocol, the
/// sequence ids to echo and the method (whose name a Binary reply repeats). Only the codec
/// makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    pub(crate) framing: Framing,
    pub(crate) protocol: Protocol,
    pub(crate) header_seq_id: u32,
    pub(crate) seq_id: u32,
    pub(crate) method: Method,
}

impl ReplyTo {
    /// The connection's framing.
    #[must_use]
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The call's protocol.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The call's method.
    #[must_use]
    pub fn method(&self) -> Method {
        self.method
    }

    /// The message's sequence id, echoed in the reply.
    #[must_use]
    pub fn seq_id(&self) -> u32 {
        self.seq_id
    }

    /// The Header frame's sequence id, echoed in a Header reply (0 for Framed).
    #[must_use]
    pub fn header_seq_id(&self) -> u32 {
        self.header_seq_id
    }
}

/// One call read from a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// What was asked.
    pub request: WireRequest,
    /// Where the reply goes: `None` for `signout` (never answered: python reads no reply, and
    /// a stray one would be read as the answer to its next call) and for any call sent as a
    /// one-way message. A host drops the node's reply to a call without one.
    pub reply_to: Option<ReplyTo>,
}
