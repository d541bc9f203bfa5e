//! graphd started in-process on free loopback ports over a fresh data directory (stopped by
//! its guard, also when a test fails), a TCP proxy whose links can be cut, and helpers to read
//! the server's session list through our own client.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use graphsession_client::{Client, Config, Session, Value};
use graphsession_graphd::Server;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// Fails the test if `future` takes longer than `secs`.
pub(crate) async fn within<T>(secs: u64, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), future).await.expect("the test timed out")
}

/// graphd running in this process; stopped when dropped.
pub(crate) struct Graphd {
    server: Option<Server>,
    /// Each node's address.
    pub(crate) addrs: Vec<SocketAddr>,
    dir: PathBuf,
}

impl Graphd {
    /// `nodes` graph nodes sharing one embedded meta store, on free ports.
    pub(crate) async fn start(name: &str, nodes: u16) -> Graphd {
        Graphd::start_with(name, nodes, false).await
    }

    /// The same, checking passwords when `authorize` (root's is "nebula").
    pub(crate) async fn start_with(name: &str, nodes: u16, authorize: bool) -> Graphd {
        Graphd::start_configured(name, nodes, authorize, 28_800).await
    }

    /// The same with the server's `session_idle_timeout_secs`.
    pub(crate) async fn start_configured(
        name: &str,
        nodes: u16,
        authorize: bool,
        session_idle_timeout_secs: u64,
    ) -> Graphd {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("client-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = graphsession_graphd::Config {
            port: 0,
            nodes,
            data_path: dir.clone(),
            session_reclaim_interval_secs: 1,
            snapshot_interval_secs: 1,
            enable_authorize: authorize,
            session_idle_timeout_secs,
            ..graphsession_graphd::Config::default()
        };
        let server = graphsession_graphd::start(config).await.unwrap();
        let addrs = server.addrs().to_vec();
        Graphd { server: Some(server), addrs, dir }
    }

    /// The nodes' addresses as strings.
    pub(crate) fn addresses(&self) -> Vec<String> {
        self.addrs.iter().map(ToString::to_string).collect()
    }

    /// Stops it cleanly.
    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }
}

impl Drop for Graphd {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The default root login of graphd.
pub(crate) fn root() -> Config {
    Config::new("root", "nebula")
}

/// The ids of every session graphd holds (SHOW SESSIONS), read through `admin`.
pub(crate) async fn server_sessions(admin: &Session) -> BTreeSet<i64> {
    let rows = admin.execute("SHOW SESSIONS").await.unwrap();
    rows.rows()
        .iter()
        .map(|row| match &row.values[0] {
            Value::iVal(id) => *id,
            other => panic!("a session id: {other:?}"),
        })
        .collect()
}

/// Waits (up to 10 s) until `gone` is no longer among graphd's sessions.
pub(crate) async fn await_signed_out(admin: &Session, gone: i64) {
    for _ in 0..200 {
        if !server_sessions(admin).await.contains(&gone) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {gone} was never signed out");
}

/// The session id a session runs with, read from the server (`SHOW LOCAL SESSIONS` would
/// need the node; the newest session of the user is ours when the test opens one at a time).
pub(crate) async fn newest_session(admin: &Session, before: &BTreeSet<i64>) -> i64 {
    let now = server_sessions(admin).await;
    let mut new: Vec<i64> = now.difference(before).copied().collect();
    assert_eq!(new.len(), 1, "exactly one new session: {new:?}");
    new.pop().unwrap()
}

/// A connected client of `graphd`'s nodes.
pub(crate) async fn client(graphd: &Graphd) -> Client {
    Client::connect(graphd.addresses(), root()).await.unwrap()
}

/// A TCP proxy to one upstream; [`Proxy::cut`] closes every link and stops listening.
pub(crate) struct Proxy {
    /// Where clients connect.
    pub(crate) addr: SocketAddr,
    accept: JoinSet<()>,
    links: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links = Arc::new(Mutex::new(JoinSet::new()));
        let mut accept = JoinSet::new();
        let shared = Arc::clone(&links);
        accept.spawn(async move {
            while let Ok((mut downstream, _)) = listener.accept().await {
                shared.lock().await.spawn(async move {
                    let Ok(mut up) = TcpStream::connect(upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut up).await;
                });
            }
        });
        Proxy { addr, accept, links }
    }

    /// Closes the listener and every link (both sockets), and returns only once they are
    /// closed, so the next statement certainly meets a dead socket: the upstream looks down.
    pub(crate) async fn cut(&mut self) {
        self.accept.abort_all();
        while self.accept.join_next().await.is_some() {}
        let mut links = self.links.lock().await;
        links.abort_all();
        while links.join_next().await.is_some() {}
    }
}
