//! A small NebulaGraph client for graphd's tests, on the wire crate's test-side encoder (calls
//! framed as nebula3-python frames them, Header + Compact, or as the Node.js client does,
//! Framed + Binary; replies decoded with the generated client types), plus a graphd started
//! in-process on free loopback ports over a fresh data directory, stopped by its handle.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

#[path = "../../../wire/tests/support/mod.rs"]
pub(crate) mod wire_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use graphsession_graphd::{Config, Server};
use graphsession_wire::nebula_common::types::Value as WireValue;
use graphsession_wire::nebula_graph::services::graph_service::{
    AuthenticateExn, ExecuteExn, ExecuteJsonExn, VerifyClientVersionExn,
};
use graphsession_wire::nebula_graph::types::{AuthResponse, ExecutionResponse};
use graphsession_wire::{Framing, Method, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
pub(crate) use wire_support::ClientCall;
use wire_support::{Decoded, decode_frame, frame};

/// How long a test waits for any one reply.
pub(crate) const REPLY_WAIT: Duration = Duration::from_secs(10);

/// A fresh, empty data directory under the system's temporary directory, removed when the
/// test drops it (declare it before the graphd that uses it, so graphd stops first).
pub(crate) fn fresh_dir(name: &str) -> TestDir {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("graphd-test-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TestDir(dir)
}

/// A test's data directory: a path that outlives every graphd started on it within the test
/// (restarts reuse it) and is removed at the test's end, passed or failed, so runs leave
/// nothing under the temporary directory.
pub(crate) struct TestDir(PathBuf);

impl std::ops::Deref for TestDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test configuration: free ports, one-second sync rounds, a fresh data directory.
pub(crate) fn config(dir: &Path) -> Config {
    Config {
        port: 0,
        data_path: dir.to_path_buf(),
        session_reclaim_interval_secs: 1,
        snapshot_interval_secs: 1,
        ..Config::default()
    }
}

/// graphd running in this process.
pub(crate) struct Graphd {
    server: Option<Server>,
    /// Each node's address.
    pub addrs: Vec<SocketAddr>,
    /// Its data directory.
    pub dir: PathBuf,
    /// The directory removed once this graphd has stopped, when the graphd owns it.
    owned_dir: Option<TestDir>,
}

impl Graphd {
    /// Starts graphd with `config`.
    pub(crate) async fn start(config: Config) -> Graphd {
        let dir = config.data_path.clone();
        let server = graphsession_graphd::start(config).await.unwrap();
        let addrs = server.addrs().to_vec();
        Graphd { server: Some(server), addrs, dir, owned_dir: None }
    }

    /// Starts graphd with the test configuration on a fresh data directory of its own, removed
    /// when it is dropped.
    pub(crate) async fn fresh(name: &str) -> Graphd {
        let dir = fresh_dir(name);
        Graphd::start(config(&dir)).await.owning(dir)
    }

    /// Takes `dir`, removed when this graphd is dropped (after its server, the field before).
    pub(crate) fn owning(mut self, dir: TestDir) -> Graphd {
        self.owned_dir = Some(dir);
        self
    }

    /// The first node's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The running server.
    pub(crate) fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The running server, to crash or restart a node.
    pub(crate) fn server_mut(&mut self) -> &mut Server {
        self.server.as_mut().unwrap()
    }

    /// Stops it cleanly (everything written).
    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }
}

/// A client connection speaking one framing.
pub(crate) struct Client {
    stream: TcpStream,
    framing: Framing,
    protocol: Protocol,
    seq_id: u32,
}

impl Client {
    /// nebula3-python's framing: Header + Compact, sequence ids 0.
    pub(crate) async fn python(addr: SocketAddr) -> Client {
        Client::connect(addr, Framing::Header, Protocol::Compact).await
    }

    /// The Node.js client's framing: Framed + Binary, growing sequence ids.
    pub(crate) async fn node_js(addr: SocketAddr) -> Client {
        Client::connect(addr, Framing::Framed, Protocol::Binary).await
    }

    /// A connection in `framing` and `protocol`.
    pub(crate) async fn connect(addr: SocketAddr, framing: Framing, protocol: Protocol) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        Client { stream, framing, protocol, seq_id: 0 }
    }

    /// Writes raw bytes.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends `call` without reading anything (a sign-out).
    pub(crate) async fn send(&mut self, call: &ClientCall) {
        if self.framing == Framing::Framed {
            self.seq_id += 1;
        }
        let bytes = frame(self.framing, self.protocol, call, self.seq_id);
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// Reads one whole frame, or `None` when the server closed the connection first.
    pub(crate) async fn read_frame(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let mut length = [0_u8; 4];
        let read = tokio::time::timeout(wait, self.stream.read_exact(&mut length)).await;
        let Ok(Ok(_)) = read else {
            assert!(read.is_ok(), "no reply within {wait:?}");
            return None;
        };
        let mut frame = length.to_vec();
        frame.resize(4 + usize::try_from(u32::from_be_bytes(length)).unwrap(), 0);
        tokio::time::timeout(wait, self.stream.read_exact(&mut frame[4..])).await.ok()?.ok()?;
        Some(frame)
    }

    /// Whether the server closes the connection within `wait` (no frame comes first).
    pub(crate) async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut byte = [0_u8; 1];
        matches!(tokio::time::timeout(wait, self.stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
    }

    /// Sends `call` and decodes its reply.
    pub(crate) async fn call(&mut self, call: &ClientCall) -> Decoded {
        self.send(call).await;
        let frame = self.read_frame(REPLY_WAIT).await.expect("the server closed the connection");
        decode_frame(self.framing, self.protocol, call.method(), self.seq_id, &frame)
    }

    /// `verifyClientVersion`: its code and message.
    pub(crate) async fn verify(&mut self, version: &str) -> (i32, String) {
        let call = ClientCall::VerifyClientVersion { version: version.as_bytes().to_vec() };
        let Decoded::VerifyClientVersion(VerifyClientVersionExn::Success(reply)) =
            self.call(&call).await
        else {
            panic!("not a verifyClientVersion reply");
        };
        (reply.error_code.0, text(reply.error_msg.as_deref()))
    }

    /// `authenticate`.
    pub(crate) async fn authenticate(&mut self, user: &str, password: &str) -> AuthResponse {
        let call = ClientCall::Authenticate {
            username: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        };
        let Decoded::Authenticate(AuthenticateExn::Success(reply)) = self.call(&call).await else {
            panic!("not an authenticate reply");
        };
        reply
    }

    /// `authenticate` that must succeed: the session id.
    pub(crate) async fn login(&mut self, user: &str, password: &str) -> i64 {
        let reply = self.authenticate(user, password).await;
        assert_eq!(reply.error_code.0, 0, "login: {:?}", text(reply.error_msg.as_deref()));
        reply.session_id.unwrap()
    }

    /// `execute` (`executeWithParameter` with an empty map for python, as python sends it).
    pub(crate) async fn execute(&mut self, session_id: i64, statement: &str) -> Response {
        let method = match self.framing {
            Framing::Header => Method::ExecuteWithParameter,
            Framing::Framed | Framing::Unframed => Method::Execute,
        };
        self.execute_with(method, session_id, statement, Default::default()).await
    }

    /// One of the execute methods with parameters.
    pub(crate) async fn execute_with(
        &mut self,
        method: Method,
        session_id: i64,
        statement: &str,
        parameters: std::collections::BTreeMap<Vec<u8>, WireValue>,
    ) -> Response {
        let call = ClientCall::Execute {
            method,
            session_id,
            statement: statement.as_bytes().to_vec(),
            parameters,
        };
        match self.call(&call).await {
            Decoded::Execute(ExecuteExn::Success(reply)) => Response::of(reply),
            Decoded::ExecuteJson(ExecuteJsonExn::Success(json)) => {
                Response::Json(serde_json::from_slice(&json).unwrap())
            }
            other => panic!("not an execute reply: {other:?}"),
        }
    }
}

/// An execute's reply, simplified for assertions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    /// `ExecutionResponse`.
    Execution {
        /// Its code.
        code: i32,
        /// Its message (empty on success).
        message: String,
        /// Its space.
        space: String,
        /// Its columns.
        columns: Vec<String>,
        /// Its rows.
        rows: Vec<Vec<WireValue>>,
    },
    /// The JSON document of the `executeJson` variants.
    Json(serde_json::Value),
}

impl Response {
    fn of(reply: ExecutionResponse) -> Response {
        let (columns, rows) = match reply.data {
            Some(data) => (
                data.column_names.iter().map(|name| text(Some(name))).collect(),
                data.rows.into_iter().map(|row| row.values).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Response::Execution {
            code: reply.error_code.0,
            message: text(reply.error_msg.as_deref()),
            space: text(reply.space_name.as_deref()),
            columns,
            rows,
        }
    }

    /// The code.
    pub(crate) fn code(&self) -> i32 {
        match self {
            Response::Execution { code, .. } => *code,
            Response::Json(json) => {
                i32::try_from(json["errors"][0]["code"].as_i64().unwrap()).unwrap()
            }
        }
    }

    /// The message.
    pub(crate) fn message(&self) -> &str {
        match self {
            Response::Execution { message, .. } => message,
            Response::Json(json) => json["errors"][0]["message"].as_str().unwrap_or(""),
        }
    }

    /// The space.
    pub(crate) fn space(&self) -> &str {
        match self {
            Response::Execution { space, .. } => space,
            Response::Json(json) => json["results"][0]["spaceName"].as_str().unwrap(),
        }
    }

    /// The columns.
    pub(crate) fn columns(&self) -> Vec<String> {
        match self {
            Response::Execution { columns, .. } => columns.clone(),
            Response::Json(json) => {
                serde_json::from_value(json["results"][0]["columns"].clone()).unwrap_or_default()
            }
        }
    }

    /// The rows (ExecutionResponse only).
    pub(crate) fn rows(&self) -> &[Vec<WireValue>] {
        match self {
            Response::Execution { rows, .. } => rows,
            Response::Json(_) => &[],
        }
    }

    /// Asserts success.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Response {
        assert_eq!((self.code(), self.message()), (0, ""), "{self:?}");
        self
    }
}

/// Bytes as text.
pub(crate) fn text(bytes: Option<&[u8]>) -> String {
    String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned()
}

/// A string cell.
pub(crate) fn string(value: &WireValue) -> String {
    match value {
        WireValue::sVal(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("not a string: {other:?}"),
    }
}

/// An int cell.
pub(crate) fn int(value: &WireValue) -> i64 {
    match value {
        WireValue::iVal(int) => *int,
        other => panic!("not an int: {other:?}"),
    }
}

/// Runs a test body within `seconds`.
pub(crate) async fn within<F: std::future::Future<Output = ()>>(seconds: u64, body: F) {
    tokio::time::timeout(Duration::from_secs(seconds), body)
        .await
        .expect("the test did not finish in time");
}
