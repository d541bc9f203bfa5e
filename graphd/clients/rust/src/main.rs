//! leak.py's driver of the Rust crates `nebula-client` 0.7.3 and `bb8-nebula` 0.9 (a bb8 pool of
//! at most one `GraphSession`, the space selected at connect): JSON events on stdout, one command
//! per line on stdin, the same protocol as `client/examples/leak_driver.rs`.
//!
//! `nebula-rust-leak-driver HOST:PORT USER PASSWORD SPACE TIMEOUT_MS` (one address: the
//! manager dials one host; more are ignored but the first), then `exec` (`YIELD 1` on a pooled
//! session; `{"event": "executed", "ok": ...}` with the server's `code` when it answered),
//! `close` (the pool is dropped: bb8 has no close, and a `GraphSession` signs out only through
//! `signout(self)`, which a pool never calls), `exit`.

use bb8_nebula::{impl_tokio::v3::graph::new_graph_connection_manager, GraphClientConfiguration};
use fbthrift_transport::AsyncTransportConfiguration;
use nebula_client::v3::GraphTransportResponseHandler;
use tokio::io::{AsyncBufReadExt, BufReader};

fn emit(event: serde_json::Value) {
    println!("{event}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addresses, user, password, space, timeout_ms] = args.as_slice() else {
        let usage = "usage: HOST:PORT USER PASSWORD SPACE TIMEOUT_MS";
        emit(serde_json::json!({"event": "error", "text": usage}));
        return;
    };
    let address = addresses.split(',').next().unwrap_or(addresses);
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "9669"));
    let configuration = GraphClientConfiguration::new(
        host.to_owned(),
        port.parse().unwrap_or(9669),
        user.clone(),
        password.clone(),
        Some(space.clone()),
    );
    let mut transport = AsyncTransportConfiguration::new(GraphTransportResponseHandler);
    transport.set_read_timeout(timeout_ms.parse().unwrap_or(5_000));
    let manager = new_graph_connection_manager(configuration, transport);
    let pool = match bb8::Pool::builder().max_size(1).build(manager).await {
        Ok(pool) => pool,
        Err(error) => {
            emit(serde_json::json!({"event": "error", "text": error.to_string()}));
            return;
        }
    };
    let mut pool = Some(pool);
    if let Some(ready) = &pool {
        match ready.get().await {
            Ok(_) => emit(serde_json::json!({"event": "ready"})),
            Err(error) => emit(serde_json::json!({"event": "error", "text": error.to_string()})),
        }
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match line.trim() {
            "exec" => {
                let Some(open) = &pool else { continue };
                let outcome = match open.get().await {
                    Ok(mut session) => match session.execute(&b"YIELD 1".to_vec()).await {
                        Ok(response) if response.error_code.0 == 0 => Ok(()),
                        Ok(response) => Err((Some(response.error_code.0), "server error".into())),
                        Err(error) => Err((None, error.to_string())),
                    },
                    Err(error) => Err((None, error.to_string())),
                };
                match outcome {
                    Ok(()) => emit(serde_json::json!({"event": "executed", "ok": true})),
                    Err((code, text)) => emit(serde_json::json!({
                        "event": "executed", "ok": false, "code": code, "text": text,
                    })),
                }
            }
            "close" => {
                drop(pool.take());
                emit(serde_json::json!({"event": "closed"}));
            }
            "exit" => return,
            other => emit(serde_json::json!({"event": "unknown", "text": other})),
        }
    }
}
