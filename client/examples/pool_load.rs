//! A session pool under concurrent load: many tasks share a few sessions; the pool keeps
//! exact accounting and signs every session out when closed.
//!
//! `cargo run -p graphsession-client --example pool_load -- 127.0.0.1:9669`
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use graphsession_client::{Client, Config, Error, Metrics, PoolOptions};
use tokio::task::JoinSet;

/// Tasks running statements at once.
const TASKS: u32 = 16;
/// Statements each task runs.
const STATEMENTS_PER_TASK: u32 = 25;
/// Statements in all (the CI test checks them).
#[allow(dead_code, reason = "read by the CI test, not by main")]
pub(crate) const TASKS_TIMES_STATEMENTS: u32 = TASKS * STATEMENTS_PER_TASK;

/// Runs `TASKS` x `STATEMENTS_PER_TASK` statements through a pool of at most 4 sessions and
/// returns how many succeeded and the pool's final metrics.
pub(crate) async fn run(addresses: Vec<String>) -> Result<(u32, Metrics), Error> {
    let client = Client::connect(addresses, Config::new("root", "nebula")).await?;
    let options = PoolOptions { sessions_min: 2, sessions_max: 4, ..PoolOptions::default() };
    let pool = client.pool(options).await?;
    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut done = 0_u32;
            for n in 0..STATEMENTS_PER_TASK {
                pool.execute(format!("YIELD {} AS n", task * 1000 + n)).await?;
                done += 1;
            }
            Ok::<u32, Error>(done)
        });
    }
    let mut succeeded = 0;
    while let Some(joined) = tasks.join_next().await {
        succeeded += joined.map_err(|_| Error::Stopped)??;
    }
    let (stats, _) = pool.stats().await?;
    println!("{succeeded} statements; pool {stats:?}");
    let metrics = pool.close().await?;
    println!(
        "sessions created {}, signed out {}, leaked {}, zombies {}",
        metrics.sessions_created,
        metrics.sessions_signed_out,
        metrics.sessions_leaked,
        metrics.sessions_zombie
    );
    Ok((succeeded, metrics))
}

#[tokio::main]
#[allow(dead_code, reason = "the CI test runs `run`, not `main`")]
async fn main() -> Result<(), Error> {
    let mut addresses: Vec<String> = std::env::args().skip(1).collect();
    if addresses.is_empty() {
        addresses.push("127.0.0.1:9669".to_owned());
    }
    run(addresses).await.map(drop)
}
