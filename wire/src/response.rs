//! The node's replies as NebulaGraph's response structs, one function per response type. Each
//! takes any reply kind, because the node may answer a call with a reply of another method's
//! kind (a connection held behind its sign-out has every request refused with an execute
//! error): a failure of any kind keeps its code and message, and a success of the wrong kind (a
//! host bug) becomes a -1005 error naming it, never a silent success.

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::Reply;
use nebula_fbthrift_common_v3::types::ErrorCode;
use nebula_fbthrift_graph_v3::types::{AuthResponse, ExecutionResponse, VerifyClientVersionResp};

use crate::request::Method;
use crate::value::wire_data_set;

/// What a reply says to a call of one method.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome<'a> {
    /// The reply of the method's own kind, succeeded.
    Succeeded(&'a Reply),
    /// Failed, with NebulaGraph's code and message.
    Failed { code: i32, message: String },
}

/// What `reply` says to a call of `method`.
pub(crate) fn outcome(method: Method, reply: &Reply) -> Outcome<'_> {
    let fits = match reply {
        Reply::ClientVersion { code: 0, .. } => method == Method::VerifyClientVersion,
        Reply::Authenticated { .. } => method == Method::Authenticate,
        Reply::Executed { .. } => method.is_execute(),
        Reply::ClientVersion { code, message }
        | Reply::AuthenticateFailed { code, message }
        | Reply::ExecuteFailed { code, message, .. } => {
            return Outcome::Failed { code: *code, message: message.clone() };
        }
    };
    if fits {
        return Outcome::Succeeded(reply);
    }
    Outcome::Failed {
        code: E_EXECUTION_ERROR,
        message: format!("internal error: a {} reply to {method}", kind(reply)),
    }
}

fn kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::ClientVersion { .. } => "client version",
        Reply::Authenticated { .. } => "authenticated",
        Reply::AuthenticateFailed { .. } => "authenticate failed",
        Reply::Executed { .. } => "executed",
        Reply::ExecuteFailed { .. } => "execute failed",
    }
}

/// The space a reply names (empty when it names none).
pub(crate) fn space_name(reply: &Reply) -> &str {
    match reply {
        Reply::Executed { space_name, .. } | Reply::ExecuteFailed { space_name, .. } => space_name,
        Reply::ClientVersion { .. }
        | Reply::Authenticated { .. }
        | Reply::AuthenticateFailed { .. } => "",
    }
}

/// `verifyClientVersion`'s response.
#[must_use]
pub fn verify_client_version_response(reply: &Reply) -> VerifyClientVersionResp {
    match outcome(Method::VerifyClientVersion, reply) {
        Outcome::Succeeded(_) => {
            VerifyClientVersionResp { error_code: ErrorCode(0), ..Default::default() }
        }
        Outcome::Failed { code, message } => VerifyClientVersionResp {
            error_code: ErrorCode(code),
            error_msg: Some(message.into_bytes()),
            ..Default::default()
        },
    }
}

/// `authenticate`'s response: the session, the server's time zone, or the failure (its message
/// always set: python decodes it unconditionally).
#[must_use]
pub fn auth_response(reply: &Reply) -> AuthResponse {
    match outcome(Method::Authenticate, reply) {
        Outcome::Succeeded(Reply::Authenticated {
            session_id,
            time_zone_offset_seconds,
            time_zone_name,
        }) => AuthResponse {
            error_code: ErrorCode(0),
            session_id: Some(*session_id),
            time_zone_offset_seconds: Some(*time_zone_offset_seconds),
            time_zone_name: Some(time_zone_name.as_bytes().to_vec()),
            ..Default::default()
        },
        // `outcome` succeeds an authenticate only with `Authenticated`.
        Outcome::Succeeded(_) => AuthResponse { error_code: ErrorCode(0), ..Default::default() },
        Outcome::Failed { code, message } => AuthResponse {
            error_code: ErrorCode(code),
            error_msg: Some(message.into_bytes()),
            ..Default::default()
        },
    }
}

/// `execute`'s (and `executeWithParameter`'s) response: `latency_us` as measured by the host,
/// the space name on every response (python's session pool resends `USE` when it differs from
/// its own), no plan description. The reply's plan id is not sent: the response has no field
/// for it.
#[must_use]
pub fn execution_response(reply: &Reply, latency_us: u64) -> ExecutionResponse {
    let latency_in_us = i64::try_from(latency_us).unwrap_or(i64::MAX);
    let space_name = Some(space_name(reply).as_bytes().to_vec());
    match outcome(Method::Execute, reply) {
        Outcome::Succeeded(Reply::Executed { data, .. }) => ExecutionResponse {
            error_code: ErrorCode(0),
            latency_in_us,
            data: data.as_ref().map(wire_data_set),
            space_name,
            ..Default::default()
        },
        Outcome::Succeeded(_) => {
            ExecutionResponse { latency_in_us, space_name, ..Default::default() }
        }
        Outcome::Failed { code, message } => ExecutionResponse {
            error_code: ErrorCode(code),
            latency_in_us,
            space_name,
            error_msg: Some(message.into_bytes()),
            ..Default::default()
        },
    }
}
