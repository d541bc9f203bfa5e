//! The client side of one connection, sans I/O: calls encoded as nebula3-python encodes them
//! (Header framing, Compact protocol) or as the Node.js client does (Framed, Binary), replies
//! decoded with the generated types after the bounded walker checked them.
//!
//! A reply carries no request id: the codec remembers, in order, which method each call that
//! expects a reply was, and each reply must answer the oldest (same method name, same sequence
//! ids). A reply that does not is a [`ReplyError`] and closes the codec: a connection whose
//! replies are out of step can never be trusted again. `signout` is one-way: it expects no reply
//! (python sends it as an ordinary call and reads none; so does this codec).

mod config;
mod decode;
mod encode;
mod error;

pub use config::{ClientCodecConfig, ClientCodecConfigError, PENDING_REPLIES_LIMIT};
pub use error::{EncodeError, ReplyError};

use std::collections::VecDeque;

use nebula_fbthrift_graph_v3::types::{AuthResponse, ExecutionResponse, VerifyClientVersionResp};

use crate::framing::{Prefix, check_prefix, split};
use crate::request::{Method, WireRequest};

/// A decoded reply, by the generated response types.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `verifyClientVersion`'s reply.
    VerifyClientVersion(VerifyClientVersionResp),
    /// `authenticate`'s reply (the session id is any `i64`: NebulaGraph's development branch
    /// issues negative ones).
    Authenticate(AuthResponse),
    /// The reply of `execute` or `executeWithParameter`.
    Execute(ExecutionResponse),
    /// The JSON document of `executeJson` or `executeJsonWithParameter`.
    ExecuteJson(Vec<u8>),
}

/// A call awaiting its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    method: Method,
    seq_id: u32,
}

/// The client side of one connection: [`encode`](ClientCodec::encode) calls, feed what the socket
/// reads to [`handle_bytes`](ClientCodec::handle_bytes), take replies from
/// [`poll_reply`](ClientCodec::poll_reply) until `None`. After an error the codec is closed:
/// the host closes the socket.
///
/// ```
/// use graphsession_wire::{ClientCodec, ClientCodecConfig, WireRequest};
///
/// let mut codec = ClientCodec::new(ClientCodecConfig::default())?;
/// let call = WireRequest::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() };
/// let bytes = codec.encode(&call)?;
/// assert_eq!(&bytes[4..6], &[0x0F, 0xFF]); // a Header frame, as nebula3-python writes
/// assert_eq!(codec.pending_replies(), 1);
/// assert!(codec.poll_reply().is_none()); // nothing read yet
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientCodec {
    config: ClientCodecConfig,
    pending: VecDeque<Pending>,
    next_seq_id: u32,
    buffer: Vec<u8>,
    start: usize,
    /// The error that closed the codec, and whether `poll_reply` reported it.
    failed: Option<(ReplyError, bool)>,
}

impl ClientCodec {
    /// A codec for a new connection.
    pub fn new(config: ClientCodecConfig) -> Result<ClientCodec, ClientCodecConfigError> {
        config.validate()?;
        Ok(ClientCodec {
            config,
            pending: VecDeque::new(),
            next_seq_id: 0,
            buffer: Vec::new(),
            start: 0,
            failed: None,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientCodecConfig {
        &self.config
    }

    /// Calls written whose replies have not been decoded yet.
    #[must_use]
    pub fn pending_replies(&self) -> usize {
        self.pending.len()
    }

    /// Why the codec closed, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<&ReplyError> {
        self.failed.as_ref().map(|(error, _)| error)
    }

    /// The bytes to write for `request`. An execute with `parameters` is sent as
    /// `executeWithParameter` (`executeJsonWithParameter` with `json`), one without as `execute`
    /// (`executeJson`). A call that expects a reply is remembered; refused (nothing changes)
    /// when `pending_replies_max` are already awaited or the codec closed.
    pub fn encode(&mut self, request: &WireRequest) -> Result<Vec<u8>, EncodeError> {
        if let Some((error, _)) = &self.failed {
            return Err(EncodeError::Closed { cause: error.to_string() });
        }
        let method = encode::method_of(request);
        let answered = method != Method::SignOut;
        let max = self.config.pending_replies_max;
        if answered && u32::try_from(self.pending.len()).unwrap_or(u32::MAX) >= max {
            return Err(EncodeError::TooManyPending { pending_replies_max: max });
        }
        let seq_id = self.next_seq_id;
        let bytes = encode::encode_call(&self.config, request, method, seq_id);
        self.next_seq_id = self.next_seq_id.wrapping_add(1);
        if answered {
            self.pending.push_back(Pending { method, seq_id });
        }
        Ok(bytes)
    }

    /// Takes bytes read from the socket. The next frame's length and marker are checked as soon
    /// as they arrive. Ignored once the codec closed.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.buffer.drain(..self.start);
        self.start = 0;
        let buffered_bytes = (self.buffer.len() as u64).saturating_add(bytes.len() as u64);
        if buffered_bytes > u64::from(self.config.buffered_bytes_max) {
            let buffered_bytes_max = self.config.buffered_bytes_max;
            return self.fail(ReplyError::BufferFull { buffered_bytes, buffered_bytes_max });
        }
        self.buffer.extend_from_slice(bytes);
        self.check_next();
    }

    /// The next complete reply, or the error that closed the codec (reported once); `None`
    /// while a frame is incomplete, and after the error.
    #[must_use]
    pub fn poll_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        if let Some((error, reported)) = &mut self.failed {
            if *reported {
                return None;
            }
            *reported = true;
            return Some(Err(error.clone()));
        }
        let framing = self.config.framing;
        let decoded = match split(&self.buffer[self.start..], framing) {
            Ok(None) => return None,
            Ok(Some(frame)) => {
                let expected = self.pending.front().copied();
                decode::decode_reply(&frame, expected, &self.config).map(|reply| (frame, reply))
            }
            Err(error) => Err(ReplyError::Frame(error)),
        };
        match decoded {
            Ok((frame, reply)) => {
                self.start += frame.frame_bytes;
                self.pending.pop_front();
                self.check_next();
                Some(Ok(reply))
            }
            Err(error) => {
                self.fail(error);
                self.poll_reply()
            }
        }
    }

    /// Checks the codec's own invariants (for tests and fuzzers).
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        if self.start > self.buffer.len() {
            return Err("consumed bytes past the buffer's end");
        }
        let buffered = self.buffer.len().saturating_sub(self.start) as u64;
        if buffered > u64::from(self.config.buffered_bytes_max) {
            return Err("more bytes buffered than buffered_bytes_max");
        }
        if self.failed.is_some() && buffered > 0 {
            return Err("a failed codec still holds bytes");
        }
        if self.pending.len() as u64 > u64::from(self.config.pending_replies_max) {
            return Err("more calls awaited than pending_replies_max");
        }
        Ok(())
    }

    /// Checks the next frame's prefix as soon as it is there; a reply with no call awaiting it
    /// is refused at once.
    fn check_next(&mut self) {
        let rest = &self.buffer[self.start..];
        match check_prefix(rest, Some(self.config.framing), self.config.frame_bytes_max) {
            Ok(Prefix::NeedMore) if rest.is_empty() => {}
            Ok(Prefix::NeedMore | Prefix::Checked(_)) if self.pending.is_empty() => {
                self.fail(ReplyError::Unsolicited);
            }
            Ok(_) => {}
            Err(error) => self.fail(ReplyError::Frame(error)),
        }
    }

    fn fail(&mut self, error: ReplyError) {
        self.failed = Some((error, false));
        self.buffer = Vec::new();
        self.start = 0;
        self.pending.clear();
    }
}

impl Reply {
    /// What the reply means to a [`SessionMachine`](graphsession_core::client::SessionMachine):
    /// authenticate's session id (any non-zero value) or code and message; an execute's success
    /// or code and message (the result itself stays with the host, which owns the reply).
    /// `None` for `verifyClientVersion`, which the machine never sends.
    #[must_use]
    pub fn to_machine_response(&self) -> Option<graphsession_core::client::Response> {
        use graphsession_core::client::Response;
        let text = |bytes: &Option<Vec<u8>>| {
            String::from_utf8_lossy(bytes.as_deref().unwrap_or_default()).into_owned()
        };
        Some(match self {
            Reply::VerifyClientVersion(_) => return None,
            Reply::Authenticate(auth) => match (auth.error_code.0, auth.session_id) {
                (0, Some(session_id)) => Response::AuthenticateOk { session_id },
                // A success without an id: the machine refuses id 0 as a protocol violation.
                (0, None) => Response::AuthenticateOk { session_id: 0 },
                (code, _) => Response::AuthenticateErr { code, message: text(&auth.error_msg) },
            },
            Reply::Execute(response) => match response.error_code.0 {
                0 => Response::ExecuteOk { result: String::new() },
                code => Response::ExecuteErr { code, message: text(&response.error_msg) },
            },
            Reply::ExecuteJson(json) => json_response(json),
        })
    }
}

/// The code and message of an `executeJson` document (`errors[0].code`, `errors[0].message`);
/// a document that says neither counts as a success, as the clients read it.
fn json_response(json: &[u8]) -> graphsession_core::client::Response {
    use graphsession_core::client::Response;
    let document: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let error = &document["errors"][0];
    let code = error["code"].as_i64().and_then(|code| i32::try_from(code).ok()).unwrap_or(0);
    match code {
        0 => Response::ExecuteOk { result: String::new() },
        code => Response::ExecuteErr {
            code,
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        },
    }
}
