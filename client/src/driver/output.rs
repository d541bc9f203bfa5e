//! What a finished request gives back: a statement's result set, a JSON document, or a ping's
//! answer.

use graphsession_core::client::PingOutcome;
use graphsession_wire::ClientReply;

use crate::{Error, ResultSet};

/// A request's result, as the driver hands it back.
#[derive(Debug)]
pub(crate) enum Output {
    /// `execute`'s reply.
    Rows(ResultSet),
    /// `executeJson`'s document.
    Json(serde_json::Value),
    /// A ping's answer.
    Ping(PingOutcome),
}

impl Output {
    /// The output of the reply the machine just reported as a result.
    pub(crate) fn of(reply: Option<ClientReply>, json: bool) -> Result<Output, Error> {
        match reply {
            Some(ClientReply::Execute(response)) if !json => {
                Ok(Output::Rows(ResultSet::new(response)))
            }
            Some(ClientReply::ExecuteJson(bytes)) if json => serde_json::from_slice(&bytes)
                .map(Output::Json)
                .map_err(|error| Error::Json { reason: error.to_string() }),
            // The machine reported a result without a matching reply: a host bug, never
            // reached; reported rather than invented.
            _ => Err(Error::Protocol { reason: "a result without a reply of its kind" }),
        }
    }
}
