//! `cargo xtask clients`: graphd judged by NebulaGraph's official clients (the last step of
//! `cargo xtask ci`). It installs what is missing (`graphd/clients/install.sh`, into
//! `target/clients/`), builds graphd in release, starts it with `--nodes 3` on 127.0.0.1:9669-9671
//! (the ports the upstream tests hard-code) over a temporary `--data_path`, runs each suite with
//! a time limit, and stops graphd by its pid:
//!
//! 1. graphd's nebula3-python suite (`graphd/clients/python`: sessions, and NebulaGraph's
//!    acceptance scenarios), pytest; its exit code 5 (no test collected) is a failure;
//! 2. nebula3-python's own tests against an expected-outcome table (`upstream.py`);
//! 3. the fault script of the Node.js client, nebula3-python, the Rust crates nebula-client +
//!    bb8-nebula and graphsession-client through TCP fault proxies (`leak.py`, which starts its
//!    own graphd of 3 nodes, since it kills nodes and sessions, and drives
//!    `graphd/clients/node/leak.js`, `python_driver.py`, `graphd/clients/rust` and the client's
//!    `leak_driver` example; the counts also go to `target/clients/leak.json`).
//!
//! The suites run at once (they sleep more than they compute; each uses its own users, and the
//! scenarios their own graphds on free ports), each into its own log under `target/clients/`,
//! printed when it ends; the step fails if any suite failed or passed its time limit.
#![expect(
    clippy::disallowed_types,
    reason = "xtask is an edge: it times the suites it runs with the monotonic clock"
)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, describe, run};

/// The first of graphd's three ports: upstream's tests dial 9669, 9670 and 9671.
const FIRST_PORT: u16 = 9669;
const NODES: u16 = 3;

/// One suite: its name, its command and how long it may take.
struct Suite {
    name: &'static str,
    command: Command,
    limit: Duration,
}

pub(crate) fn clients(root: &Path) -> Result<()> {
    let started = Instant::now();
    run(bash(root, "graphd/clients/install.sh"))?;
    run(cargo(root, &["build", "--release", "--locked", "--package", "graphsession-graphd"]))?;
    // graphsession-client's side of the leak measurement.
    let driver = ["--package", "graphsession-client", "--example", "leak_driver"];
    run(cargo(root, &[&["build", "--release", "--locked"][..], &driver[..]].concat()))?;
    // The Rust crates nebula-client 0.7.3 + bb8-nebula 0.9, measured beside it (own workspace).
    // A debug build: its six generated Thrift crates take minutes longer to optimize, and the
    // leak measurement counts sessions, not speed.
    let peer = root.join("graphd").join("clients").join("rust");
    let peer_target = root.join("target").join("clients").join("rust");
    let mut build_peer = cargo(&peer, &["build", "--locked", "--target-dir"]);
    build_peer.arg(&peer_target);
    run(build_peer)?;
    let built = started.elapsed();
    let graphd = Graphd::start(root)?;
    let failed = run_all(root, suites(root, &graphd.binary));
    graphd.stop()?;
    eprintln!(
        "clients: {:.0} s in all ({:.0} s installing the clients, building graphd and the drivers)",
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("client suites failed: {}", failed.join(", "));
    }
    Ok(())
}

/// A suite started, its output going to `log`.
struct Running {
    suite: Suite,
    child: Child,
    log: PathBuf,
    started: Instant,
}

/// Starts every suite, waits for each within its limit, prints each one's output when it ends;
/// returns the names of those that failed.
fn run_all(root: &Path, suites: Vec<Suite>) -> Vec<&'static str> {
    let logs = root.join("target").join("clients");
    let mut failed = Vec::new();
    let mut running = Vec::new();
    for (index, mut suite) in suites.into_iter().enumerate() {
        let log = logs.join(format!("suite-{index}.log"));
        eprintln!(
            "$ {} (limit {} s, log {})",
            describe(&suite.command),
            suite.limit.as_secs(),
            log.display()
        );
        match spawn_logged(&mut suite.command, &log) {
            Ok(child) => running.push(Running { suite, child, log, started: Instant::now() }),
            Err(error) => {
                eprintln!("clients: {} could not start: {error:#}", suite.name);
                failed.push(suite.name);
            }
        }
    }
    while !running.is_empty() {
        let mut still = Vec::new();
        for mut entry in running {
            match poll(&mut entry) {
                None => still.push(entry),
                Some(outcome) => {
                    let took = entry.started.elapsed().as_secs_f64();
                    let output = std::fs::read_to_string(&entry.log).unwrap_or_default();
                    eprintln!("{output}");
                    match outcome {
                        Ok(()) => eprintln!("clients: {} passed in {took:.1} s", entry.suite.name),
                        Err(error) => {
                            eprintln!(
                                "clients: {} FAILED in {took:.1} s: {error:#}",
                                entry.suite.name
                            );
                            failed.push(entry.suite.name);
                        }
                    }
                }
            }
        }
        running = still;
        std::thread::sleep(Duration::from_millis(100));
    }
    failed
}

fn spawn_logged(command: &mut Command, log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command.stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file));
    command.spawn().with_context(|| format!("starting {}", describe(command)))
}

/// The suite's outcome once it ended or passed its limit (then it is killed); `None` while it
/// runs. pytest's exit code 5 (no test was collected) is a failure like any other non-zero code.
fn poll(entry: &mut Running) -> Option<Result<()>> {
    match entry.child.try_wait() {
        Err(error) => Some(Err(error.into())),
        Ok(Some(status)) => Some(match status.code() {
            Some(0) => Ok(()),
            Some(5) => Err(anyhow::anyhow!("no test was collected (exit 5)")),
            _ => Err(anyhow::anyhow!("{status}")),
        }),
        Ok(None) if entry.started.elapsed() >= entry.suite.limit => {
            let _ = entry.child.kill();
            let _ = entry.child.wait();
            Some(Err(anyhow::anyhow!("timed out after {} s", entry.suite.limit.as_secs())))
        }
        Ok(None) => None,
    }
}

fn suites(root: &Path, binary: &Path) -> Vec<Suite> {
    let cache = root.join("target").join("clients");
    let python = cache.join("venv").join("bin").join("python");
    let suite_dir = root.join("graphd").join("clients").join("python");
    let port = FIRST_PORT.to_string();

    let mut pytest = Command::new(&python);
    pytest
        .current_dir(&suite_dir)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rxfE"])
        .args(["test_sessions.py", "test_scenarios.py"])
        .env("GRAPHD_BIN", binary)
        .env("GRAPHD_PORT", &port);

    let mut upstream = Command::new(&python);
    let tests = cache.join("sdist").join("nebula3_python-3.8.3").join("tests");
    upstream.current_dir(&suite_dir).arg("upstream.py").arg(tests);

    let mut leak = Command::new(&python);
    leak.current_dir(&suite_dir)
        .args(["leak.py", "--rust-driver"])
        .arg(root.join("target").join("release").join("examples").join("leak_driver"))
        .arg("--nebula-rust-driver")
        .arg(cache.join("rust").join("debug").join("nebula-rust-leak-driver"))
        .arg("--json")
        .arg(cache.join("leak.json"))
        .env("NODE_PATH", cache.join("node").join("node_modules"))
        .env("GRAPHD_BIN", binary);

    vec![
        Suite { name: "graphd's nebula3-python suite", command: pytest, limit: secs(150) },
        Suite { name: "nebula3-python's own tests", command: upstream, limit: secs(270) },
        // 5 clients x 6 phases: about 105 s when measured alone, mostly timeouts waited out.
        Suite { name: "the fault script", command: leak, limit: secs(300) },
    ]
}

const fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn bash(root: &Path, script: &str) -> Command {
    let mut command = Command::new("bash");
    command.current_dir(root).arg(script);
    command
}

/// graphd started for the suites; stopped by its pid (SIGTERM, then SIGKILL) when dropped.
struct Graphd {
    child: Option<Child>,
    binary: PathBuf,
    data: PathBuf,
}

impl Graphd {
    fn start(root: &Path) -> Result<Graphd> {
        for port in FIRST_PORT..FIRST_PORT + NODES {
            TcpListener::bind(("127.0.0.1", port)).with_context(|| {
                format!("port {port} is in use: the upstream tests need 9669-9671 free")
            })?;
        }
        let binary = root.join("target").join("release").join("graphd");
        let data = std::env::temp_dir().join(format!("graphd-clients-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let log_path = root.join("target").join("clients").join("graphd.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--port={FIRST_PORT}"))
            .arg(format!("--nodes={NODES}"))
            .arg(format!("--data_path={}", data.display()))
            .args(["--enable_authorize=true", "--session_reclaim_interval_secs=1"])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        eprintln!("$ {} (log: {})", describe(&command), log_path.display());
        let child = command.spawn().context("starting graphd")?;
        let graphd = Graphd { child: Some(child), binary, data };
        graphd.wait_listening(Duration::from_secs(30))?;
        Ok(graphd)
    }

    fn wait_listening(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        for port in FIRST_PORT..FIRST_PORT + NODES {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() >= deadline {
                    bail!("graphd did not listen on {addr} within {} s", limit.as_secs());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    fn stop(mut self) -> Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                break child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::remove_dir_all(&self.data);
        eprintln!("clients: graphd (pid {pid}) stopped: {status}");
        Ok(())
    }
}

impl Drop for Graphd {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}
