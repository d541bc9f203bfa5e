//! Real etcd for tests: one member or a cluster of three, started from Debian's `etcd` binary
//! on free loopback ports over temporary data directories, and stopped by the pid it started
//! (`kill -9`), also when a test fails: [`EtcdCluster`]'s `Drop` kills every member it still
//! runs and removes the directories. Members can be killed and restarted one by one.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "test support: processes, sockets, clocks and files are its job"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a member may take to answer after it starts.
const START_WAIT: Duration = Duration::from_secs(20);

/// A free loopback port (bound, then let go for the child to take).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh directory under the system's temporary directory.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gs-etcd-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// Whether the member on `port` answers `/health` with `"health":"true"`.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.contains("\"health\":\"true\"")
}

/// etcd members run by this test.
pub(crate) struct EtcdCluster {
    members: Vec<Member>,
    dir: PathBuf,
    initial_cluster: String,
}

impl EtcdCluster {
    /// `size` members on free loopback ports, each answering before this returns.
    pub(crate) fn start(size: usize) -> EtcdCluster {
        let dir = temp_dir("cluster");
        let members: Vec<Member> = (1..=size)
            .map(|index| Member {
                name: format!("m{index}"),
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|member| format!("{}=http://127.0.0.1:{}", member.name, member.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = EtcdCluster { members, dir, initial_cluster };
        for index in 0..size {
            cluster.spawn(index, "new");
        }
        for index in 0..size {
            cluster.wait_ready(index);
        }
        cluster
    }

    fn spawn(&mut self, index: usize, state: &str) {
        let member = &self.members[index];
        let data = self.dir.join(&member.name);
        let client = format!("http://127.0.0.1:{}", member.client_port);
        let peer = format!("http://127.0.0.1:{}", member.peer_port);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", member.name))).unwrap();
        let child = Command::new("etcd")
            .args(["--name", &member.name, "--data-dir"])
            .arg(&data)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster, "--initial-cluster-state", state])
            .args(["--initial-cluster-token", "graphsession-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd is installed (Debian etcd-server)");
        self.members[index].child = Some(child);
    }

    /// Waits until member `index` reports itself healthy (it has a leader): etcd's `/health`.
    fn wait_ready(&self, index: usize) {
        self.wait_until(index, "healthy", healthy);
    }

    /// Waits until member `index` accepts connections.
    fn wait_listening(&self, index: usize) {
        self.wait_until(index, "listening", |port| {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    fn wait_until(&self, index: usize, what: &str, ready: impl Fn(u16) -> bool) {
        let port = self.members[index].client_port;
        let deadline = Instant::now() + START_WAIT;
        while Instant::now() < deadline {
            if ready(port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("etcd member {index} was not {what} within {START_WAIT:?}");
    }

    /// Waits until every running member has a leader.
    pub(crate) fn wait_healthy(&self) {
        for index in 0..self.members.len() {
            if self.members[index].child.is_some() {
                self.wait_ready(index);
            }
        }
    }

    /// Every member's client URL.
    pub(crate) fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|member| format!("http://127.0.0.1:{}", member.client_port))
            .collect()
    }

    /// The `etcd://` address of every member.
    pub(crate) fn url(&self) -> String {
        let members: Vec<String> =
            self.members.iter().map(|member| format!("127.0.0.1:{}", member.client_port)).collect();
        format!("etcd://{}", members.join(","))
    }

    /// Member `index`'s pid, while it runs.
    pub(crate) fn pid(&self, index: usize) -> Option<u32> {
        self.members[index].child.as_ref().map(Child::id)
    }

    /// `kill -9` of member `index` (by the pid this harness started).
    pub(crate) fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `index` again over its data directory; it listens when this returns (it
    /// has a leader only once a quorum runs: [`Self::wait_healthy`]).
    pub(crate) fn restart(&mut self, index: usize) {
        self.spawn(index, "existing");
        self.wait_listening(index);
    }

    /// Members.
    pub(crate) fn size(&self) -> usize {
        self.members.len()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            self.kill(index);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
