//! The driver `graphd/clients/python/leak.py` runs to put this client through the same fault
//! script as the official clients: one line of JSON per event on stdout, one command per line
//! on stdin.
//!
//! `leak_driver HOST:PORT[,HOST:PORT...] USER PASSWORD SPACE TIMEOUT_MS` (the addresses failed
//! over in order; `TIMEOUT_MS` the execute timeout), then the commands, the protocol of every
//! leak driver:
//! - `exec`: runs `YIELD 1` (idempotent: re-sent on the same session after a cut link) and
//!   prints `{"event": "executed", "ok": true}` or `{"event": "executed", "ok": false, "code":
//!   <NebulaGraph's code, or null when the server gave none>, "text": ...}`;
//! - `close`: closes the session (its sign-out delivered once the server is reachable again,
//!   within `close_flush_timeout_ms`) and prints `closed` with the final metrics;
//! - `exit` (or end of input): exits.
#![allow(clippy::print_stdout, reason = "the driver speaks JSON lines on stdout")]

use graphsession_client::{Client, Config, Error, Session};
use tokio::io::{AsyncBufReadExt, BufReader};

fn emit(event: &serde_json::Value) {
    println!("{event}");
}

async fn open(args: &[String]) -> Result<Session, Error> {
    let [addresses, user, password, space, timeout_ms] = args else {
        return Err(Error::NoAddress);
    };
    let mut config = Config::new(user.as_str(), password.as_str()).with_space(space.as_str());
    config.session.execute_timeout_ms = timeout_ms.parse().unwrap_or(5_000);
    let client = Client::connect(addresses.split(','), config).await?;
    client.session().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let session = match open(&args).await {
        Ok(session) => session,
        Err(error) => {
            emit(&serde_json::json!({"event": "error", "text": error.to_string()}));
            return;
        }
    };
    emit(&serde_json::json!({"event": "ready"}));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut session = Some(session);
    while let Ok(Some(line)) = lines.next_line().await {
        match (line.trim(), session.as_ref()) {
            ("exec", Some(open)) => match open.execute_idempotent("YIELD 1").await {
                Ok(_) => emit(&serde_json::json!({"event": "executed", "ok": true})),
                Err(error) => emit(&serde_json::json!({
                    "event": "executed", "ok": false, "code": error.code(), "text": error.to_string(),
                })),
            },
            ("close", Some(_)) => {
                let Some(open) = session.take() else { continue };
                match open.close().await {
                    Ok(metrics) => emit(&serde_json::json!({
                        "event": "closed",
                        "created": metrics.sessions_created,
                        "signed_out": metrics.sessions_signed_out,
                        "leaked": metrics.sessions_leaked,
                        "zombies": metrics.sessions_zombie,
                        "reconnects": metrics.reconnects,
                    })),
                    Err(error) => {
                        emit(&serde_json::json!({"event": "failed", "text": error.to_string()}));
                    }
                }
            }
            ("exit", _) => return,
            (other, _) => emit(&serde_json::json!({"event": "unknown", "text": other})),
        }
    }
}
