//! graphd processes on a real etcd for the tests of `--meta etcd://`: each graphd is the
//! `graphd` binary started on a free loopback port over a fresh data directory and stopped by
//! the pid it started (`kill -9`, or SIGTERM for a clean stop), also when a test fails
//! ([`GraphdProcess`]'s `Drop`); a TCP proxy between a graphd and etcd that can be stopped
//! ([`Proxy`]); and etcd itself from meta-etcd's test support.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::print_stderr,
    reason = "test support: processes, sockets, clocks and files are its job; a failed test prints graphd's log"
)]

#[path = "../../../meta-etcd/tests/support/etcd.rs"]
pub(crate) mod etcd;
pub(crate) mod record;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinSet;

/// The sync interval every test graphd runs with, seconds.
pub(crate) const SYNC_INTERVAL_SECS: u64 = 1;
/// The process lease every test graphd runs with unless told otherwise, seconds: a graphd gives
/// it up after twice this without a renewal, which must outlast an etcd election on a loaded
/// machine.
pub(crate) const LEASE_TTL_SECS: u64 = 3;

/// Consecutive ports free for a graphd when it is spawned: one per graph node, `--nodes` up to
/// this many.
const NODE_PORTS_MAX: u16 = 4;

/// Starts of a graphd whose port was taken meanwhile, at most.
const PORT_TRIES: u32 = 3;

/// A port from which `count` consecutive ports are free now (graphd's `--nodes N` listens on N
/// consecutive ports).
fn free_ports(count: u16) -> u16 {
    loop {
        let port = etcd::free_port();
        let free = |offset: u16| {
            port.checked_add(offset)
                .is_some_and(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        };
        if (1..count).all(free) {
            return port;
        }
    }
}

/// A graphd process on etcd.
pub(crate) struct GraphdProcess {
    child: Option<Child>,
    /// Its one node's address.
    pub(crate) addr: SocketAddr,
    /// Its pid.
    pub(crate) pid: u32,
    dir: PathBuf,
}

impl GraphdProcess {
    /// Starts `graphd --meta url --meta_prefix prefix` and waits until it serves.
    pub(crate) fn start(url: &str, prefix: &str) -> GraphdProcess {
        GraphdProcess::start_with(url, prefix, &[])
    }

    /// The same with more flags (a `--data_path=` among them replaces the fresh one).
    /// A graphd whose port another process took between the test's choice and graphd's bind
    /// (an outgoing connection's ephemeral port, say) is started again on other ports, up to
    /// `PORT_TRIES` times.
    pub(crate) fn start_with(url: &str, prefix: &str, flags: &[&str]) -> GraphdProcess {
        let mut process = GraphdProcess::spawn(url, prefix, flags);
        let mut tries = 1;
        let deadline = Instant::now() + Duration::from_secs(30);
        // The port is bound before graphd joins etcd: wait for the line it logs once it serves
        // (a graphd whose etcd went away while it joined exits instead).
        while std::net::TcpStream::connect(process.addr).is_err()
            || !process.log().contains("node 1 listening on ")
        {
            if let Some(status) = process.exited() {
                if process.log().contains("Address already in use") && tries < PORT_TRIES {
                    tries += 1;
                    process = GraphdProcess::spawn(url, prefix, flags);
                    continue;
                }
                panic!("graphd exited at start ({status}): {}", process.log());
            }
            assert!(Instant::now() < deadline, "graphd did not listen: {}", process.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// Starts graphd expecting it to refuse to start: its exit status and its log, once it has
    /// exited by itself (within 30 s).
    pub(crate) fn refused(url: &str, prefix: &str) -> (ExitStatus, String) {
        GraphdProcess::refused_with(url, prefix, &[])
    }

    /// The same with more flags.
    pub(crate) fn refused_with(url: &str, prefix: &str, flags: &[&str]) -> (ExitStatus, String) {
        let mut process = GraphdProcess::spawn(url, prefix, flags);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = process.exited() {
                return (status, process.log());
            }
            assert!(Instant::now() < deadline, "graphd did not stop: {}", process.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process, started on a free port; not waited for.
    fn spawn(url: &str, prefix: &str, flags: &[&str]) -> GraphdProcess {
        let port = free_ports(NODE_PORTS_MAX);
        let dir = etcd::temp_dir("graphd");
        let log = std::fs::File::create(dir.join("graphd.log")).unwrap();
        let data = format!("--data_path={}", dir.join("data").display());
        let given_data = flags.iter().any(|flag| flag.starts_with("--data_path="));
        let child = Command::new(env!("CARGO_BIN_EXE_graphd"))
            .args(["--meta", url, "--meta_prefix", prefix])
            .args(
                (!flags.iter().any(|flag| flag.starts_with("--meta_lease_ttl_secs")))
                    .then(|| format!("--meta_lease_ttl_secs={LEASE_TTL_SECS}")),
            )
            .arg(format!("--session_reclaim_interval_secs={SYNC_INTERVAL_SECS}"))
            .arg(format!("--port={port}"))
            .args(flags)
            .args((!given_data).then_some(data))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let pid = child.id();
        GraphdProcess { child: Some(child), addr, pid, dir }
    }

    /// Its data directory (when the test gave none).
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("graphd.log")).unwrap_or_default()
    }

    /// Its exit status, if it has exited by itself.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|child| child.try_wait().ok().flatten())
    }

    /// Whether it runs (not killed, not exited).
    pub(crate) fn running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// A clean stop: SIGTERM by the pid this test started, then its exit status.
    pub(crate) fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        if !sent {
            let _ = child.kill();
        }
        child.wait().ok()
    }

    /// `kill -9`, by the pid this test started.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for GraphdProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("--- graphd {} log ---\n{}", self.addr, self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP proxy on a free loopback port to `target`, which can be stopped (every connection
/// dropped, nothing accepted) and started again on the same port, and can hold back the first
/// bytes a client sends that contain a marker until the test lets them go
/// ([`Proxy::hold_sent`]).
pub(crate) struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
    hold: Arc<std::sync::Mutex<Option<Hold>>>,
}

/// The longest a [`Proxy::hold_sent`] holds bytes back if the test never lets them go.
const HOLD_MS_MAX: u64 = 30_000;

/// A hold armed on a proxy: the marker, who is told when bytes containing it are held, and
/// the word that lets them go.
struct Hold {
    marker: Vec<u8>,
    held: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl Proxy {
    /// A running proxy to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Proxy {
        let proxy = Proxy {
            port: etcd::free_port(),
            target,
            tasks: Arc::new(Mutex::new(JoinSet::new())),
            hold: Arc::new(std::sync::Mutex::new(None)),
        };
        proxy.resume().await;
        proxy
    }

    /// Its address.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Accepts and forwards again.
    pub(crate) async fn resume(&self) {
        let listener = TcpListener::bind(self.addr()).await.unwrap();
        let (target, tasks) = (self.target, Arc::clone(&self.tasks));
        let hold = Arc::clone(&self.hold);
        self.tasks.lock().await.spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let hold = Arc::clone(&hold);
                tasks.lock().await.spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (from_client, to_client) = inbound.into_split();
                        let (from_server, to_server) = outbound.into_split();
                        tokio::select! {
                            () = forward(from_client, to_server, Some(hold)) => {}
                            () = forward(from_server, to_client, None) => {}
                        }
                    }
                });
            }
        });
    }

    /// Arms a hold: the first bytes a client sends through this proxy that contain `marker`
    /// (and everything after them on that connection) wait until the returned sender is used
    /// or dropped; the returned receiver is told when they are held.
    pub(crate) fn hold_sent(&self, marker: &[u8]) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (held, held_told) = oneshot::channel();
        let (release, released) = oneshot::channel();
        let armed = Hold { marker: marker.to_vec(), held, release: released };
        *self.hold.lock().unwrap() = Some(armed);
        (held_told, release)
    }

    /// Drops every connection and stops accepting.
    pub(crate) async fn stop(&self) {
        self.tasks.lock().await.abort_all();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies `from` to `to` until either ends; with `hold`, bytes matching an armed hold's marker
/// wait for its release first (a marker split across two reads is found too).
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    hold: Option<Arc<std::sync::Mutex<Option<Hold>>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0_u8; 16 * 1024];
    // The end of the bytes sent so far, long enough to find a marker that straddles two reads.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let Ok(read) = from.read(&mut buffer).await else { return };
        if read == 0 {
            return;
        }
        let chunk = &buffer[..read];
        if let Some(hold) = &hold {
            tail.extend_from_slice(chunk);
            let caught = {
                let mut armed = hold.lock().unwrap();
                let found = armed.as_ref().is_some_and(|armed| {
                    tail.windows(armed.marker.len()).any(|window| window == armed.marker)
                });
                if found { armed.take() } else { None }
            };
            if let Some(caught) = caught {
                let _ = caught.held.send(());
                let wait = Duration::from_millis(HOLD_MS_MAX);
                let _ = tokio::time::timeout(wait, caught.release).await;
            }
            let keep = tail.len().min(1024);
            tail.drain(..tail.len() - keep);
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// One counter of etcd's Prometheus metrics at `endpoint` (the sum of its series).
pub(crate) async fn etcd_metric(endpoint: &str, name: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
