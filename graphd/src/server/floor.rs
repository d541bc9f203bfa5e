//! The floor: graphd without its session kernel, so that the kernel's cost under load is a
//! ratio (`graphd-load --floor`). The same listeners, accept loops, connection tasks, wire
//! codec and channel to one task as graphd; only what answers on that channel differs: no
//! `GraphNode`, no registry, no meta store, no parser, no executor. `authenticate` answers a
//! success with the next id of a counter, every execute an empty success, `verifyClientVersion`
//! a success, and `signout` nothing (as always). Passwords are never checked
//! (`enable_authorize` is off), so graphd is measured against it with authorization off too.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use graphsession_core::node::{Reply, Request};
use tokio::sync::mpsc;

use crate::actor::{Incoming, Message};
use crate::config::Config;
use crate::passwords::Passwords;
use crate::server::{Behind, Server};
use crate::startup::bind;
use crate::store::DataDir;

/// Starts the floor on `config`'s address and ports (`--nodes` of them), with its data
/// directory holding only the password store the connections share (never consulted).
pub async fn start_floor(config: Config) -> Result<Server> {
    let config = Config { enable_authorize: false, ..config };
    let dir = DataDir::open(&config.data_path)?;
    let passwords = Arc::new(Passwords::load_or_create(&dir)?);
    let listeners = bind(&config).await?;
    let (inbox, messages) = mpsc::unbounded_channel();
    let actor_task = tokio::spawn(floor(messages));
    // The floor has no meta store to lose: its `fenced` never changes.
    let (_never, fenced) = tokio::sync::watch::channel(false);
    Server::serve(config, listeners, Behind { inbox, actor_task, passwords, fenced })
}

/// The floor's stand-in for the actor.
async fn floor(mut messages: mpsc::UnboundedReceiver<Message>) {
    let mut sessions: i64 = 0;
    while let Some(message) = messages.recv().await {
        match message {
            Message::Request { incoming, reply: Some(reply), .. } => {
                let _delivered = reply.send(answer(&mut sessions, incoming));
            }
            Message::Request { reply: None, .. }
            | Message::Closed { .. }
            | Message::QueryDone { .. }
            | Message::MetaAnswer { .. }
            | Message::MetaLost
            | Message::Peers(_)
            | Message::CatalogTurn(_)
            | Message::CatalogWritten(_)
            | Message::CatalogChanged { .. }
            | Message::Census { .. }
            | Message::SessionsWritten => {}
            Message::Crash { done, .. } => {
                let _told = done.send(Err(anyhow!("the floor has no node to crash")));
            }
            Message::Shutdown { done } => {
                let _told = done.send(Ok(()));
                return;
            }
        }
    }
}

/// A fixed success for every call that is answered.
fn answer(sessions: &mut i64, incoming: Incoming) -> Reply {
    let executed = Reply::Executed { space_name: String::new(), data: None, plan_id: None };
    match incoming {
        Incoming::Node(Request::Authenticate { .. }) => {
            *sessions = sessions.wrapping_add(1).max(1);
            Reply::Authenticated {
                session_id: *sessions,
                time_zone_offset_seconds: 0,
                time_zone_name: "UTC".to_owned(),
            }
        }
        Incoming::Node(Request::VerifyClientVersion { .. }) => {
            Reply::ClientVersion { code: 0, message: String::new() }
        }
        Incoming::Node(_) | Incoming::Execute { .. } => executed,
    }
}
