//! The executor's work that waits: `graphd_sleep` (checking the query's kill flag every
//! [`CHECK_EVERY_MS`]) and CHANGE PASSWORD (two Argon2id hashes, off the actor). Each reports
//! back to the actor with `Message::QueryDone`, always, so the node ends the query.

use std::sync::Arc;
use std::time::Duration;

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{DataSet, Secret};
use graphsession_core::server::QueryStart;
use graphsession_permission::PermissionError;
use graphsession_query_plan::QueryKey;
use tokio::sync::mpsc;

use crate::actor::{Actor, Message, NodeIndex};
use crate::executor::Outcome;
use crate::passwords::{Passwords, verify};

/// How often a sleeping statement checks whether it was killed.
pub(super) const CHECK_EVERY_MS: u64 = 10;

/// NebulaGraph's message for a query whose kill won.
const KILLED: &str = "Execution had been killed";

fn key_of(query: &QueryStart) -> QueryKey {
    QueryKey { session: query.session, plan: query.plan }
}

/// `graphd_sleep`: waits `ms`, or less if the query is killed, then answers `data`.
pub(super) fn sleep(
    actor: &Actor,
    node: NodeIndex,
    query: QueryStart,
    ms: u64,
    data: DataSet,
) -> Outcome {
    let inbox = actor.inbox.clone();
    let key = key_of(&query);
    let handle = query.handle;
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        let result = loop {
            if handle.check().is_err() {
                break Err((E_EXECUTION_ERROR, KILLED.to_owned()));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break Ok(Some(data));
            }
            let step = (deadline - now).min(Duration::from_millis(CHECK_EVERY_MS));
            tokio::time::sleep(step).await;
        };
        let _actor_gone = inbox.send(Message::QueryDone { node, key, result });
    });
    Outcome::Later
}

/// CHANGE PASSWORD: the old password must match; then the new one is stored, hashed.
pub(super) fn change_password(
    actor: &Actor,
    node: NodeIndex,
    query: &QueryStart,
    user: String,
    old: Secret,
    new: Secret,
) -> Outcome {
    let Some(stored) = actor.passwords.stored(&user) else {
        let error = PermissionError::UserNotFound { user };
        return Outcome::Done(Err((error.code(), error.to_string())));
    };
    let inbox = actor.inbox.clone();
    let passwords = Arc::clone(&actor.passwords);
    let key = key_of(query);
    tokio::spawn(async move {
        let work =
            tokio::task::spawn_blocking(move || change(&passwords, &user, &stored, &old, &new));
        let result = work.await.unwrap_or_else(|error| {
            Err((E_EXECUTION_ERROR, format!("internal error: the password task failed: {error}")))
        });
        report(&inbox, node, key, result);
    });
    Outcome::Later
}

fn change(
    passwords: &Passwords,
    user: &str,
    stored: &str,
    old: &Secret,
    new: &Secret,
) -> Result<Option<DataSet>, (i32, String)> {
    if !verify(stored, old.0.as_bytes()) {
        // Meta's E_INVALID_PASSWORD as NebulaGraph's graph service shows it to the client (its
        // acceptance test User.feature: an ExecutionError "Invalid password!"), not a login's -1001.
        return Err((E_EXECUTION_ERROR, "Invalid password!".to_owned()));
    }
    passwords.set(user, &new.0).map_err(|error| (E_EXECUTION_ERROR, format!("{error:#}")))?;
    Ok(None)
}

fn report(
    inbox: &mpsc::UnboundedSender<Message>,
    node: NodeIndex,
    key: QueryKey,
    result: Result<Option<DataSet>, (i32, String)>,
) {
    let _actor_gone = inbox.send(Message::QueryDone { node, key, result });
}
