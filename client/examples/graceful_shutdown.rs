//! Graceful shutdown: workers run statements until a shutdown signal (Ctrl-C here), then stop
//! taking work, finish what is in flight, and the pool signs every session out before the
//! program exits; nothing is left on the server.
//!
//! `cargo run -p graphsession-client --example graceful_shutdown -- 127.0.0.1:9669`
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::future::Future;

use graphsession_client::{Client, Config, Error, Metrics, PoolOptions};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Workers running statements.
const WORKERS: u32 = 4;

/// Runs workers until `shutdown` completes, then shuts down in order: stop, drain, close.
/// Returns the statements run and the pool's final metrics.
pub(crate) async fn run(
    addresses: Vec<String>,
    shutdown: impl Future<Output = ()>,
) -> Result<(u64, Metrics), Error> {
    let client = Client::connect(addresses, Config::new("root", "nebula")).await?;
    let pool = client.pool(PoolOptions { sessions_max: 2, ..PoolOptions::default() }).await?;
    let (stop, stopped) = watch::channel(false);
    let mut workers = JoinSet::new();
    for worker in 0..WORKERS {
        let pool = pool.clone();
        let mut stopped = stopped.clone();
        workers.spawn(async move {
            let mut done = 0_u64;
            while !*stopped.borrow_and_update() {
                pool.execute(format!("YIELD {worker} AS worker")).await?;
                done += 1;
            }
            Ok::<u64, Error>(done)
        });
    }
    shutdown.await;
    // 1. Stop taking work; 2. let the statements in flight finish; 3. sign everything out.
    let _ = stop.send(true);
    let mut done = 0;
    while let Some(joined) = workers.join_next().await {
        done += joined.map_err(|_| Error::Stopped)??;
    }
    let metrics = pool.close().await?;
    println!(
        "{done} statements; {} sessions signed out, {} leaked",
        metrics.sessions_signed_out, metrics.sessions_leaked
    );
    Ok((done, metrics))
}

#[tokio::main]
#[allow(dead_code, reason = "the CI test runs `run`, not `main`")]
async fn main() -> Result<(), Error> {
    let mut addresses: Vec<String> = std::env::args().skip(1).collect();
    if addresses.is_empty() {
        addresses.push("127.0.0.1:9669".to_owned());
    }
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    run(addresses, ctrl_c).await.map(drop)
}
