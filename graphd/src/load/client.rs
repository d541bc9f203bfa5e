//! One load connection: calls framed as nebula3-python frames them (Header + Compact) or as
//! the Node.js client does (Framed + Binary), by the wire tests' encoder; replies read whole
//! and decoded with the generated client-side result types. Every failure is a value: a lost
//! connection (the caller fails over), a refusal with NebulaGraph's code, or a reply that is
//! not what the call expects.

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::Duration;

use fbthrift_git::binary_protocol::BinaryProtocolDeserializer;
use fbthrift_git::compact_protocol::CompactProtocolDeserializer;
use fbthrift_git::{Deserialize, ProtocolReader};
use graphsession_wire::nebula_graph::services::graph_service::{
    AuthenticateExn, ExecuteExn, VerifyClientVersionExn,
};
use graphsession_wire::{Framing, Method, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::load::wire_support::{ClientCall, frame};

/// The largest reply frame the load client reads.
const REPLY_BYTES_MAX: usize = 1 << 20;

/// Which official client's framing the load speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavour {
    /// nebula3-python: Header + Compact, `executeWithParameter`, sequence ids 0.
    Python,
    /// The Node.js client: Framed + Binary, `execute`, growing sequence ids.
    Node,
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The connection is gone (closed, reset, refused) or silent past the reply wait.
    #[error("connection lost: {0}")]
    Lost(#[from] std::io::Error),
    /// graphd answered with an error code.
    #[error("error {code}: {message}")]
    Refused {
        /// NebulaGraph's code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// The reply is not one this call can get.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// One client connection.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    framing: Framing,
    protocol: Protocol,
    seq_id: u32,
    reply_wait: Duration,
}

impl Connection {
    /// Connects to `addr` in `flavour`'s framing.
    pub async fn connect(
        addr: SocketAddr,
        flavour: Flavour,
        reply_wait: Duration,
    ) -> std::io::Result<Connection> {
        let stream = tokio::time::timeout(reply_wait, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        stream.set_nodelay(true)?;
        let (framing, protocol) = match flavour {
            Flavour::Python => (Framing::Header, Protocol::Compact),
            Flavour::Node => (Framing::Framed, Protocol::Binary),
        };
        Ok(Connection { stream, framing, protocol, seq_id: 0, reply_wait })
    }

    /// `authenticate`: the new session's id.
    pub async fn authenticate(&mut self, user: &str, password: &str) -> Result<i64, CallError> {
        let call = ClientCall::Authenticate {
            username: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        };
        let bytes = self.encode(&call);
        self.stream.write_all(&bytes).await?;
        let reply = match self.read_reply::<AuthenticateExn>().await? {
            AuthenticateExn::Success(reply) => reply,
            other => return Err(CallError::Protocol(format!("{other:?}"))),
        };
        match (reply.error_code.0, reply.session_id) {
            (0, Some(session)) => Ok(session),
            (code, _) => Err(refused(code, reply.error_msg.as_deref())),
        }
    }

    /// An execute of `statement` in `session` (`executeWithParameter` with an empty map for
    /// python, as it sends it; `execute` for Node.js): the rows of its result.
    pub async fn execute(&mut self, session: i64, statement: &str) -> Result<usize, CallError> {
        let method = match self.framing {
            Framing::Header => Method::ExecuteWithParameter,
            Framing::Framed | Framing::Unframed => Method::Execute,
        };
        let call = ClientCall::execute(method, session, statement);
        let bytes = self.encode(&call);
        self.stream.write_all(&bytes).await?;
        let reply = match self.read_reply::<ExecuteExn>().await? {
            ExecuteExn::Success(reply) => reply,
            other => return Err(CallError::Protocol(format!("{other:?}"))),
        };
        match reply.error_code.0 {
            0 => Ok(reply.data.map_or(0, |data| data.rows.len())),
            code => Err(refused(code, reply.error_msg.as_deref())),
        }
    }

    /// `signout` (one-way, never answered) and a `verifyClientVersion` in the same write: the
    /// node holds a connection that signed out until meta confirmed the removal, so the
    /// verify's reply is when the sign-out is durable.
    pub async fn sign_out(&mut self, session: i64) -> Result<(), CallError> {
        let mut bytes = self.encode(&ClientCall::SignOut { session_id: session });
        let verify = ClientCall::VerifyClientVersion { version: b"3.0.0".to_vec() };
        bytes.extend_from_slice(&self.encode(&verify));
        self.stream.write_all(&bytes).await?;
        let reply = match self.read_reply::<VerifyClientVersionExn>().await? {
            VerifyClientVersionExn::Success(reply) => reply,
            other => return Err(CallError::Protocol(format!("{other:?}"))),
        };
        match reply.error_code.0 {
            0 => Ok(()),
            code => Err(refused(code, reply.error_msg.as_deref())),
        }
    }

    fn encode(&mut self, call: &ClientCall) -> Vec<u8> {
        // nebula3-python sends sequence id 0 on every call; the Node.js client counts.
        if self.framing == Framing::Framed {
            self.seq_id = self.seq_id.wrapping_add(1);
        }
        frame(self.framing, self.protocol, call, self.seq_id)
    }

    /// Reads one whole reply frame and decodes it as `T` (in the protocol the frame says).
    async fn read_reply<T>(&mut self) -> Result<T, CallError>
    where
        T: for<'a> Deserialize<BinaryProtocolDeserializer<Cursor<&'a [u8]>>>
            + for<'a> Deserialize<CompactProtocolDeserializer<Cursor<&'a [u8]>>>,
    {
        let read = tokio::time::timeout(self.reply_wait, self.read_frame()).await;
        let frame = read.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let (protocol, payload) = unframe(self.framing, &frame)?;
        let decoded = match protocol {
            Protocol::Binary => read_message(BinaryProtocolDeserializer::new(Cursor::new(payload))),
            Protocol::Compact => {
                read_message(CompactProtocolDeserializer::new(Cursor::new(payload)))
            }
        };
        decoded.map_err(|error| CallError::Protocol(format!("{error:#}")))
    }

    async fn read_frame(&mut self) -> std::io::Result<Vec<u8>> {
        let mut length = [0_u8; 4];
        self.stream.read_exact(&mut length).await?;
        let length = usize::try_from(u32::from_be_bytes(length)).unwrap_or(usize::MAX);
        if length > REPLY_BYTES_MAX {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "reply too long"));
        }
        let mut frame = vec![0_u8; length];
        self.stream.read_exact(&mut frame).await?;
        Ok(frame)
    }
}

fn refused(code: i32, message: Option<&[u8]>) -> CallError {
    let message = String::from_utf8_lossy(message.unwrap_or_default()).into_owned();
    CallError::Refused { code, message }
}

/// A reply frame's protocol and payload (`frame` is without its 4-byte length).
fn unframe(framing: Framing, frame: &[u8]) -> Result<(Protocol, &[u8]), CallError> {
    let bad = |what: &str| CallError::Protocol(format!("reply frame: {what}"));
    match framing {
        Framing::Framed => Ok((Protocol::Binary, frame)),
        // The load client frames every call with a length; it never speaks unframed.
        Framing::Unframed => Err(bad("unframed replies are not read here")),
        Framing::Header => {
            // magic (2), flags (2), sequence id (4), header length in words (2), header.
            let words = frame.get(8..10).ok_or_else(|| bad("short"))?;
            let words = usize::from(u16::from_be_bytes([words[0], words[1]]));
            let protocol = match frame.get(10) {
                Some(0) => Protocol::Binary,
                Some(2) => Protocol::Compact,
                _ => return Err(bad("protocol id")),
            };
            let payload = frame.get(10 + 4 * words..).ok_or_else(|| bad("header length"))?;
            Ok((protocol, payload))
        }
    }
}

fn read_message<P: ProtocolReader, T: Deserialize<P>>(mut p: P) -> anyhow::Result<T> {
    let _envelope = p.read_message_begin(|_name| ())?;
    let result = T::read(&mut p)?;
    p.read_message_end()?;
    Ok(result)
}
