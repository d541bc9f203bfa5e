//! What survives a restart on the same `--data_path`: users, passwords, roles, spaces and open
//! sessions (with their space), after a clean stop (in-process, and SIGTERM to the binary) and
//! after `kill -9` (from the periodic snapshot, also when the writes before it failed). A corrupt file, or a seal key others may read,
//! stops graphd from starting, with a message naming the file.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]
#![expect(
    clippy::disallowed_methods,
    reason = "the test corrupts files, runs the binary and sends it signals"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Client, Graphd, config, fresh_dir, string, within};

fn authorized(dir: &Path) -> graphsession_graphd::Config {
    graphsession_graphd::Config { enable_authorize: true, ..config(dir) }
}

/// Users, roles, a space and a session made before a stop, for the checks after the restart.
async fn populate(graphd: &Graphd) -> i64 {
    let mut root = Client::python(graphd.addr()).await;
    let session = root.login("root", "nebula").await;
    let script = "CREATE SPACE nba; CREATE USER alice WITH PASSWORD 'a1'; \
                  GRANT ROLE DBA ON nba TO alice; USE nba";
    root.execute(session, script).await.ok();
    session
}

async fn check_after_restart(addr: SocketAddr, session: i64) {
    let mut client = Client::node_js(addr).await;
    let reply = client.execute(session, "SHOW SPACES").await;
    assert_eq!((reply.ok().space(), string(&reply.rows()[0][0])), ("nba", "nba".to_owned()));
    let roles = client.execute(session, "SHOW ROLES IN nba").await;
    assert_eq!(string(&roles.ok().rows()[0][1]), "DBA");
    let alice = client.login("alice", "a1").await;
    assert_ne!(alice, session, "a new id, never one issued before");
    assert_eq!(client.authenticate("alice", "wrong").await.error_code.0, -1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_restart_keeps_users_roles_spaces_and_sessions() {
    within(60, async {
        let dir = fresh_dir("restart");
        let graphd = Graphd::start(authorized(&dir)).await;
        let session = populate(&graphd).await;
        graphd.stop().await;
        let graphd = Graphd::start(authorized(&dir)).await;
        check_after_restart(graphd.addr(), session).await;
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_stops_the_start_with_a_message_naming_it() {
    within(60, async {
        let dir = fresh_dir("corrupt");
        let graphd = Graphd::start(config(&dir)).await;
        populate(&graphd).await;
        graphd.stop().await;
        for name in ["roles", "users", "spaces", "meta", "leases", "seal.key", "node-1.snapshot"] {
            let path = dir.join(name);
            let original = std::fs::read(&path).unwrap();
            let mut corrupt = original.clone();
            let last = corrupt.len() - 2;
            corrupt[last] ^= 0x01;
            std::fs::write(&path, &corrupt).unwrap();
            let error = graphsession_graphd::start(config(&dir)).await.unwrap_err();
            let message = format!("{error:#}");
            assert!(message.contains(name) && message.contains("corrupt"), "{name}: {message}");
            std::fs::write(&path, &original).unwrap();
        }
        // Put back, it starts again.
        Graphd::start(config(&dir)).await.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seal_key_is_the_owners_alone() {
    within(30, async {
        let dir = fresh_dir("seal");
        Graphd::start(config(&dir)).await.stop().await;
        let key = dir.join("seal.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = format!("{:#}", graphsession_graphd::start(config(&dir)).await.unwrap_err());
        assert!(error.contains("seal.key") && error.contains("owner only"), "{error}");
    })
    .await;
}

/// A graphd binary this test started: killed by its pid when dropped, so a failed test leaves
/// no process behind.
struct Binary(Child);

impl std::ops::Deref for Binary {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Binary {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary, on a free port, with the first node's address read from its log.
fn spawn_binary(dir: &Path) -> (Binary, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(["--port", "0", "--enable_authorize", "--snapshot_interval_secs", "1"])
        .arg("--data_path")
        .arg(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let child = Binary(child);
    // Its log read on a thread of its own, to the end (so it never blocks on a full pipe); the
    // address waited for at most 30 s.
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("graphd: node 1 listening on ") {
                let _ = found.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = address.recv_timeout(Duration::from_secs(30)).expect("graphd did not listen");
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_everything_over_sigterm_and_kill_9() {
    within(60, async {
        let dir = fresh_dir("binary");
        let (mut child, addr) = spawn_binary(&dir);
        let graphd_addr = addr;
        let mut root = Client::python(graphd_addr).await;
        let session = root.login("root", "nebula").await;
        root.execute(session, "CREATE SPACE nba; CREATE USER alice WITH PASSWORD 'a1'; GRANT ROLE DBA ON nba TO alice; USE nba").await.ok();
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        assert!(child.wait().unwrap().success(), "a clean exit on SIGTERM");
        let (mut child, addr) = spawn_binary(&dir);
        check_after_restart(addr, session).await;
        // kill -9 after a snapshot interval: the periodic snapshot has the session.
        let mut client = Client::python(addr).await;
        let second = client.login("root", "nebula").await;
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        child.kill().unwrap();
        let _ = child.wait();
        let (mut child, addr) = spawn_binary(&dir);
        let mut client = Client::python(addr).await;
        client.execute(second, "YIELD 1").await.ok();
        child.kill().unwrap();
        let _ = child.wait();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_session_write_is_made_good_by_the_next_one() {
    within(60, async {
        let dir = fresh_dir("write-failed");
        let (mut child, addr) = spawn_binary(&dir);
        // The sessions cannot be written while a directory stands where meta's temporary
        // file goes (refused even to root); graphd serves on.
        let blocker = dir.join("meta.tmp");
        // Between two writes: while one is under way its temporary file stands there.
        while std::fs::create_dir(&blocker).is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::fs::create_dir(blocker.join("blocker")).unwrap();
        let mut client = Client::python(addr).await;
        let session = client.login("root", "nebula").await;
        client.execute(session, "YIELD 1").await.ok();
        // Two periodic writes fail, the second with nothing changed since the first.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        // Out of the way: the next periodic write has the session all the same.
        std::fs::remove_dir_all(&blocker).unwrap();
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        child.kill().unwrap();
        let _ = child.wait();
        let (mut child, addr) = spawn_binary(&dir);
        let mut client = Client::python(addr).await;
        client.execute(session, "YIELD 1").await.ok();
        child.kill().unwrap();
        let _ = child.wait();
    })
    .await;
}
