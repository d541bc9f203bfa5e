//! Sessions held through a load run (`graphd-load --held_sessions N`): logged in before it on
//! a few connections of their own, idle during it, signed out after it. They make the state
//! graphd keeps, and so what its periodic session writes take, as large as a busy server's,
//! while the load measures what the other connections see meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::load::{CallError, Connection, Flavour};

/// Connections the held sessions are logged in on (spread over the nodes).
const HOLDER_CONNECTIONS: usize = 8;

/// Sessions held, with the connections that logged them in.
#[derive(Debug)]
pub struct Held {
    holders: Vec<(Connection, Vec<i64>)>,
}

impl Held {
    /// Logs in `count` sessions as `user` over eight connections to `targets`
    /// (connection `i` on node `i % targets.len()`).
    pub async fn log_in(
        targets: &[SocketAddr],
        flavour: Flavour,
        user: &str,
        password: &str,
        count: usize,
    ) -> Result<Held, CallError> {
        let wait = Duration::from_secs(10);
        let mut tasks = JoinSet::new();
        for index in 0..HOLDER_CONNECTIONS.min(count.max(1)) {
            let addr = targets[index % targets.len()];
            let share =
                count / HOLDER_CONNECTIONS + usize::from(index < count % HOLDER_CONNECTIONS);
            let (user, password) = (user.to_owned(), password.to_owned());
            tasks.spawn(async move {
                let mut connection = Connection::connect(addr, flavour, wait).await?;
                let mut sessions = Vec::with_capacity(share);
                for _ in 0..share {
                    sessions.push(connection.authenticate(&user, &password).await?);
                }
                Ok::<_, CallError>((connection, sessions))
            });
        }
        let mut holders = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let holder = done.map_err(|error| CallError::Protocol(error.to_string()))??;
            holders.push(holder);
        }
        Ok(Held { holders })
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.holders.iter().map(|(_, sessions)| sessions.len()).sum()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signs every one out, each connection's in turn.
    pub async fn sign_out(self) -> Result<(), CallError> {
        let mut tasks = JoinSet::new();
        for (mut connection, sessions) in self.holders {
            tasks.spawn(async move {
                for session in sessions {
                    connection.sign_out(session).await?;
                }
                Ok::<_, CallError>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|error| CallError::Protocol(error.to_string()))??;
        }
        Ok(())
    }
}
