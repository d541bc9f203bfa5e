//! The smallest program: connect, open a session, run one query, close.
//!
//! `cargo run -p graphsession-client --example minimal -- 127.0.0.1:9669 [more graphd addresses]`
#![allow(clippy::print_stdout, reason = "an example shows its results")]

use graphsession_client::{Client, Config, Error};

/// Connects to `addresses` as root and prints one row.
pub(crate) async fn run(addresses: Vec<String>) -> Result<i64, Error> {
    let client = Client::connect(addresses, Config::new("root", "nebula")).await?;
    let session = client.session().await?;
    let rows = session.execute("YIELD 42 AS answer").await?;
    println!("columns {:?}, first row {:?}", rows.columns(), rows.rows().first());
    let answer = match rows.get(0, 0) {
        Some(graphsession_client::Value::iVal(answer)) => *answer,
        _ => 0,
    };
    // Closing waits for the sign-out; dropping the session would deliver it in the background.
    let metrics = session.close().await?;
    println!("sessions signed out: {}", metrics.sessions_signed_out);
    Ok(answer)
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
