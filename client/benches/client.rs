//! Round trips through graphd on loopback (graphd runs in this process): this client's
//! `Session::execute` and `Pool::execute` (checkout, execute, return), beside the raw codec on
//! one socket with no session machine (the baseline: what the client adds above it is its own
//! overhead), and nebula3-python's `Session.execute` and `SessionPool.execute` against the same
//! graphd in the same run (peers; skipped with a message when `target/clients/venv` lacks
//! nebula3-python: `cargo xtask clients` installs it).
#![allow(clippy::unwrap_used, reason = "a bench: a failed unwrap is a failed run")]
#![allow(clippy::print_stderr, reason = "the bench says why a peer is skipped")]
#![expect(
    clippy::disallowed_methods,
    reason = "a bench starts its peer, nebula3-python, as a process"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use graphsession_client::{Client, Config, PoolOptions};
use graphsession_wire::{ClientCodec, ClientCodecConfig, WireRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// One socket speaking the codec directly: authenticate once, then execute round trips.
struct RawSocket {
    stream: TcpStream,
    codec: ClientCodec,
    session_id: i64,
    buffer: Vec<u8>,
}

impl RawSocket {
    async fn open(address: SocketAddr) -> RawSocket {
        let stream = TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let codec = ClientCodec::new(ClientCodecConfig::default()).unwrap();
        let mut raw = RawSocket { stream, codec, session_id: 0, buffer: vec![0; 64 * 1024] };
        let login =
            WireRequest::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() };
        let graphsession_wire::ClientReply::Authenticate(auth) = raw.call(&login).await else {
            panic!("not an authenticate reply");
        };
        raw.session_id = auth.session_id.unwrap();
        raw
    }

    async fn call(&mut self, request: &WireRequest) -> graphsession_wire::ClientReply {
        let bytes = self.codec.encode(request).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
        loop {
            if let Some(reply) = self.codec.poll_reply() {
                return reply.unwrap();
            }
            let read = self.stream.read(&mut self.buffer).await.unwrap();
            assert!(read > 0, "graphd closed the socket");
            self.codec.handle_bytes(&self.buffer[..read]);
        }
    }

    async fn execute(&mut self) {
        let request = WireRequest::Execute {
            session_id: self.session_id,
            statement: "YIELD 1".to_owned(),
            parameters: None,
            json: false,
        };
        self.call(&request).await;
    }
}

/// nebula3-python's peer process.
struct Python {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Python {
    fn start(address: SocketAddr) -> Option<Python> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join("target/clients/venv/bin/python");
        let script = root.join("client/benches/nebula3_python_peer.py");
        let mut child = Command::new(&python)
            .arg(script)
            .args([address.ip().to_string(), address.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = BufReader::new(child.stdout.take()?);
        let mut ready = String::new();
        output.read_line(&mut ready).ok()?;
        (ready.trim() == "ready").then_some(Python { child, input, output })
    }

    fn time(&mut self, mode: &str, iterations: u64) -> Duration {
        writeln!(self.input, "{mode} {iterations}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        Duration::from_nanos(line.trim().parse().unwrap())
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn round_trips(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("client-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config =
        graphsession_graphd::Config { port: 0, data_path: dir.clone(), ..Default::default() };
    let server = runtime.block_on(graphsession_graphd::start(config)).unwrap();
    let address = server.addrs()[0];
    let (session, pool, mut raw) = runtime.block_on(async {
        let client =
            Client::connect([address.to_string()], Config::new("root", "nebula")).await.unwrap();
        let options = PoolOptions { sessions_min: 1, sessions_max: 4, ..PoolOptions::default() };
        let pool = client.pool(options).await.unwrap();
        (client.session().await.unwrap(), pool, RawSocket::open(address).await)
    });
    let mut group = c.benchmark_group("client_execute");
    group.bench_function("session_execute", |b| {
        b.iter(|| runtime.block_on(session.execute("YIELD 1")).unwrap());
    });
    group.bench_function("pool_execute", |b| {
        b.iter(|| runtime.block_on(pool.execute("YIELD 1")).unwrap());
    });
    group.bench_function("raw_codec_baseline", |b| b.iter(|| runtime.block_on(raw.execute())));
    match Python::start(address) {
        Some(mut python) => {
            group.bench_function("nebula3_python_session", |b| {
                b.iter_custom(|iterations| python.time("session", iterations));
            });
            group.bench_function("nebula3_python_session_pool", |b| {
                b.iter_custom(|iterations| python.time("pool", iterations));
            });
        }
        None => eprintln!("nebula3-python not in target/clients/venv: its peers are skipped"),
    }
    group.finish();
    runtime.block_on(async {
        session.close().await.unwrap();
        pool.close().await.unwrap();
        server.shutdown().await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
