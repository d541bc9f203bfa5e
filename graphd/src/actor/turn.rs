//! On etcd, users, roles, spaces and password hashes are one shared catalog (`shared_catalog.rs`)
//! in the cluster's catalog register, and a statement that may change them runs in a **turn**:
//!
//! 1. It is parked (at most [`PARKED_MAX`]) instead of fed to its node.
//! 2. The worker task takes the register's lock (one process at a time in the cluster) and reads
//!    the catalog; the actor adopts it if another graphd changed it since.
//! 3. The statement goes to its node as any statement does: the node (and the executor) apply
//!    their own rules to this process's copy, which is now the newest.
//! 4. Its reply is held. If the copy changed, the whole catalog is written, fenced by the lock
//!    and by the revision read in 2; the reply goes out once the write is committed. A write that
//!    fails puts the copy back as it was (under a new role-table version) and the statement
//!    fails instead, so no client is told of a change etcd does not hold.
//! 5. The lock is released and the next parked statement takes its turn.
//!
//! So every change is made on the newest catalog and written in one order: two graphd processes
//! granting at once both keep their grant (a last-writer-wins copy would drop one). Every other
//! graphd follows the register and adopts each new value (`RoleTable::adopt`), so its sessions
//! see a GRANT or REVOKE at their next request after the value arrives, usually within
//! milliseconds; NebulaGraph's graphd reloads from meta every heartbeat (10 s).
//!
//! graphd decides nothing here: which statements may change the catalog is the grammar's
//! (`changes_catalog`), every rule stays the node's, the permission crate's or the executor's.

use std::collections::VecDeque;

use graphsession_core::client::{ConnectionId, E_EXECUTION_ERROR};
use graphsession_core::node::{Reply, Request, SessionStatement, Statement};
use graphsession_meta_etcd::{CatalogRegister, CatalogTurn, MetaEtcdError};
use graphsession_query_plan::QueryKey;
use tokio::sync::mpsc;

use crate::actor::{Actor, Message, NodeIndex};
use crate::logging::log;
use crate::parser::{Exec, Parsed};
use crate::shared_catalog::SharedCatalog;

/// Most statements waiting for their turn in this process; more are refused at once.
pub const PARKED_MAX: usize = 256;
/// The longest a turn waits for the cluster's catalog lock, ms.
pub const TURN_WAIT_MS: u64 = 5_000;
/// Commands to the worker: the actor sends at most a release and a take between two of its
/// replies, so a few slots are plenty; a full channel is a bug, logged.
const COMMANDS_MAX: usize = 8;

/// Whether `parsed` may change users, roles, spaces or passwords.
pub fn changes_catalog(parsed: &Parsed) -> bool {
    match parsed {
        Parsed::Session(statement) => matches!(
            statement,
            SessionStatement::Grant { .. }
                | SessionStatement::Revoke { .. }
                | SessionStatement::CreateUser { .. }
                | SessionStatement::DropUser { .. }
                | SessionStatement::AlterUser { .. }
        ),
        Parsed::Exec(exec) => matches!(
            exec,
            Exec::CreateSpace { .. } | Exec::DropSpace { .. } | Exec::ChangePassword { .. }
        ),
        Parsed::Pipe(_) => false,
    }
}

/// What the worker task is asked.
#[derive(Debug)]
pub(crate) enum Command {
    /// Take the lock and read the catalog: [`Message::CatalogTurn`].
    Take,
    /// Write `value` in the turn that read `turn`: [`Message::CatalogWritten`].
    Write { turn: CatalogTurn, value: Vec<u8> },
    /// Release the lock.
    End,
}

/// A statement waiting for its turn.
#[derive(Debug)]
struct Parked {
    node: NodeIndex,
    connection: ConnectionId,
    session_id: i64,
    statement: Statement,
}

/// Where this process's turn is.
#[derive(Debug)]
enum Turn {
    /// No turn: the next parked statement starts one.
    Idle,
    /// The worker is taking the lock.
    Taking,
    /// The statement runs on its node; its reply is held once it comes.
    Running(Box<Running>),
    /// The change is being written; the reply waits for the write.
    Writing(Box<Running>),
}

/// A statement in its turn.
#[derive(Debug)]
struct Running {
    key: (NodeIndex, ConnectionId),
    read: CatalogTurn,
    before: SharedCatalog,
    reply: Option<Reply>,
    /// The executor's task still running for it (CHANGE PASSWORD hashes off the loop).
    executing: Option<QueryKey>,
}

/// The actor's side of the shared catalog (etcd only).
#[derive(Debug)]
pub(crate) struct Shared {
    commands: mpsc::Sender<Command>,
    parked: VecDeque<Parked>,
    turn: Turn,
    /// The register's revision this process's copy was last taken from or written at.
    adopted_revision: i64,
    /// A value delivered during a turn, adopted when it ends.
    deferred: Option<(i64, Vec<u8>)>,
}

impl Shared {
    /// The actor's side, with the worker started on `register`; the copy was taken at
    /// `adopted_revision`.
    pub(crate) fn start(
        register: CatalogRegister,
        adopted_revision: i64,
        actor: mpsc::UnboundedSender<Message>,
    ) -> Shared {
        let (commands, received) = mpsc::channel(COMMANDS_MAX);
        tokio::spawn(work(register, received, actor));
        Shared {
            commands,
            parked: VecDeque::new(),
            turn: Turn::Idle,
            adopted_revision,
            deferred: None,
        }
    }
}

/// The worker: one command at a time, so a release always precedes the next take.
async fn work(
    register: CatalogRegister,
    mut commands: mpsc::Receiver<Command>,
    actor: mpsc::UnboundedSender<Message>,
) {
    while let Some(command) = commands.recv().await {
        let message = match command {
            Command::Take => {
                let taken = register.take_turn(TURN_WAIT_MS).await;
                Message::CatalogTurn(taken.map_err(|error| error.to_string()))
            }
            Command::Write { turn, value } => {
                Message::CatalogWritten(write(&register, &turn, value).await)
            }
            Command::End => {
                if let Err(error) = register.end_turn().await {
                    log!("releasing the catalog lock failed: {error} (it goes with the lease)");
                }
                continue;
            }
        };
        if actor.send(message).is_err() {
            return;
        }
    }
}

/// Writes `value`; a call whose reply was lost is resolved by reading the register again (the
/// lock is still this process's, so nobody else wrote).
async fn write(
    register: &CatalogRegister,
    turn: &CatalogTurn,
    value: Vec<u8>,
) -> Result<i64, String> {
    match register.write(turn, &value).await {
        Ok(revision) => Ok(revision),
        Err(error @ (MetaEtcdError::CatalogTooLarge { .. } | MetaEtcdError::CatalogFenced)) => {
            Err(error.to_string())
        }
        Err(error) => match register.take_turn(TURN_WAIT_MS).await {
            Ok(now) if now.revision > turn.revision && now.value.as_deref() == Some(&value[..]) => {
                Ok(now.revision)
            }
            _ => Err(error.to_string()),
        },
    }
}

impl Actor {
    /// Feeds an execute to its node, or parks it for a turn when it may change the shared
    /// catalog (etcd only).
    pub(crate) fn feed(
        &mut self,
        now: u64,
        (node, connection): (NodeIndex, ConnectionId),
        (session_id, statement): (i64, Statement),
        changes: bool,
    ) {
        let Some(shared) = self.shared.as_mut().filter(|_| changes) else {
            let request = Request::Execute { session_id, statement };
            return self.nodes[node].node.handle_request(now, connection, request, &mut self.roles);
        };
        if shared.parked.len() >= PARKED_MAX {
            let message = format!("{PARKED_MAX} catalog changes wait already; retry later");
            return self.deliver(now, node, connection, failed_reply(message));
        }
        shared.parked.push_back(Parked { node, connection, session_id, statement });
        self.kick(now);
    }

    /// Starts a turn if none is under way and a statement waits.
    fn kick(&mut self, now: u64) {
        let Some(shared) = self.shared.as_mut() else { return };
        if matches!(shared.turn, Turn::Idle) && !shared.parked.is_empty() {
            shared.turn = Turn::Taking;
            if !send(&shared.commands, Command::Take) {
                self.turn_taken(now, Err("the catalog worker took no command".to_owned()));
            }
        }
    }

    /// The worker took the lock (or could not).
    pub(crate) fn turn_taken(&mut self, now: u64, taken: Result<CatalogTurn, String>) {
        let Some(shared) = self.shared.as_mut() else { return };
        if !matches!(shared.turn, Turn::Taking) {
            return;
        }
        let read = match taken {
            Ok(read) => read,
            Err(error) => {
                shared.turn = Turn::Idle;
                self.fail_parked(now, format!("the catalog in etcd is out of reach: {error}"));
                return self.kick(now);
            }
        };
        if let Some(value) =
            read.value.as_deref().filter(|_| read.revision > shared.adopted_revision)
        {
            if let Err(error) = self.adopt_catalog(read.revision, value) {
                if let Some(shared) = self.shared.as_mut() {
                    send(&shared.commands, Command::End);
                    shared.turn = Turn::Idle;
                }
                self.fail_parked(now, format!("the catalog in etcd cannot be used: {error:#}"));
                return self.kick(now);
            }
        }
        let before = self.shared_catalog();
        let Some(shared) = self.shared.as_mut() else { return };
        let parked = loop {
            match shared.parked.pop_front() {
                Some(parked) if self.waiting.contains_key(&(parked.node, parked.connection)) => {
                    break Some(parked);
                }
                Some(_) => {}
                None => break None,
            }
        };
        let Some(parked) = parked else {
            send(&shared.commands, Command::End);
            shared.turn = Turn::Idle;
            return;
        };
        let key = (parked.node, parked.connection);
        let running = Running { key, read, before, reply: None, executing: None };
        shared.turn = Turn::Running(Box::new(running));
        let request =
            Request::Execute { session_id: parked.session_id, statement: parked.statement };
        let node = &mut self.nodes[parked.node].node;
        node.handle_request(now, parked.connection, request, &mut self.roles);
    }

    /// Fails the first parked statement whose connection still waits (a turn that could not
    /// start), so a statement is never left without a reply.
    fn fail_parked(&mut self, now: u64, message: String) {
        let Some(shared) = self.shared.as_mut() else { return };
        while let Some(parked) = shared.parked.pop_front() {
            if self.waiting.contains_key(&(parked.node, parked.connection)) {
                log!("{message}");
                return self.deliver(now, parked.node, parked.connection, failed_reply(message));
            }
        }
    }

    /// A reply on `(node, connection)`: held when it is the reply of the statement in its turn.
    pub(crate) fn hold_turn_reply(
        &mut self,
        node: NodeIndex,
        connection: ConnectionId,
        reply: Reply,
    ) -> Option<Reply> {
        let Some(Shared { turn: Turn::Running(running), .. }) = self.shared.as_mut() else {
            return Some(reply);
        };
        if running.key != (node, connection) || running.reply.is_some() {
            return Some(reply);
        }
        running.reply = Some(reply);
        None
    }

    /// The executor took the turn's statement off the loop (`Outcome::Later`).
    pub(crate) fn turn_executing(
        &mut self,
        node: NodeIndex,
        connection: ConnectionId,
        key: QueryKey,
    ) {
        if let Some(Shared { turn: Turn::Running(running), .. }) = self.shared.as_mut() {
            if running.key == (node, connection) {
                running.executing = Some(key);
            }
        }
    }

    /// An executor task returned.
    pub(crate) fn turn_executed(&mut self, node: NodeIndex, key: QueryKey) {
        if let Some(Shared { turn: Turn::Running(running), .. }) = self.shared.as_mut() {
            if running.key.0 == node && running.executing == Some(key) {
                running.executing = None;
            }
        }
    }

    /// After every step: a turn whose statement is done writes its change, or ends.
    pub(crate) fn advance_turn(&mut self, now: u64) {
        let Some(Shared { turn: Turn::Running(running), .. }) = self.shared.as_ref() else {
            return;
        };
        let closed = !self.waiting.contains_key(&running.key);
        if running.reply.is_none() && (!closed || running.executing.is_some()) {
            return;
        }
        let after = self.shared_catalog();
        let Some(shared) = self.shared.as_mut() else { return };
        let Turn::Running(running) = std::mem::replace(&mut shared.turn, Turn::Idle) else {
            return;
        };
        if after.same_contents(&running.before) {
            return self.end_turn(now, *running, None);
        }
        let value = after.encode();
        let sent = send(&shared.commands, Command::Write { turn: running.read.clone(), value });
        shared.turn = Turn::Writing(running);
        if !sent {
            self.turn_written(now, Err("the catalog worker took no command".to_owned()));
        }
    }

    /// Whether a turn's change is being written: until it is, nothing else runs (see
    /// [`Actor::run`](crate::actor::Actor::run)), so no session uses a change etcd may refuse.
    pub(crate) fn turn_writing(&self) -> bool {
        matches!(self.shared, Some(Shared { turn: Turn::Writing(_), .. }))
    }

    /// The worker wrote the turn's change (or could not).
    pub(crate) fn turn_written(&mut self, now: u64, written: Result<i64, String>) {
        let Some(shared) = self.shared.as_mut() else { return };
        let Turn::Writing(running) = std::mem::replace(&mut shared.turn, Turn::Idle) else {
            return;
        };
        match written {
            Ok(revision) => {
                shared.adopted_revision = revision;
                self.end_turn(now, *running, None);
            }
            Err(error) => {
                log!("a catalog change was not stored in etcd and is undone: {error}");
                if let Err(undo) = self.restore_catalog(running.before.clone()) {
                    log!("undoing it failed: {undo:#}");
                }
                let message = format!("the change was not stored in etcd: {error}");
                self.end_turn(now, *running, Some(message));
            }
        }
    }

    /// Releases the lock, sends the held reply (or `failure` instead), adopts a value delivered
    /// meanwhile and starts the next turn.
    fn end_turn(&mut self, now: u64, running: Running, failure: Option<String>) {
        let Some(shared) = self.shared.as_mut() else { return };
        send(&shared.commands, Command::End);
        shared.turn = Turn::Idle;
        if let Some((revision, value)) = shared.deferred.take() {
            self.catalog_changed(revision, value);
        }
        if let Some(reply) = running.reply {
            let reply = match failure {
                Some(message) => failed_reply(message),
                None => reply,
            };
            let (node, connection) = running.key;
            self.deliver(now, node, connection, reply);
            self.drain(now);
        }
        self.kick(now);
    }

    /// Another graphd's change (or this one's own write) arrived from etcd.
    pub(crate) fn catalog_changed(&mut self, revision: i64, value: Vec<u8>) {
        let Some(shared) = self.shared.as_mut() else { return };
        if revision <= shared.adopted_revision {
            return;
        }
        if matches!(shared.turn, Turn::Running(_) | Turn::Writing(_)) {
            shared.deferred = Some((revision, value));
            return;
        }
        if let Err(error) = self.adopt_catalog(revision, &value) {
            log!("the catalog in etcd at revision {revision} was not taken: {error:#}");
        }
    }

    /// Takes the catalog `value` read at `revision` as this process's copy.
    fn adopt_catalog(&mut self, revision: i64, value: &[u8]) -> anyhow::Result<()> {
        let catalog = SharedCatalog::decode(value)?;
        if !catalog.same_contents(&self.shared_catalog()) {
            self.restore_catalog(catalog)?;
        }
        if let Some(shared) = self.shared.as_mut() {
            shared.adopted_revision = revision;
        }
        Ok(())
    }

    /// Makes `catalog` this process's copy: roles under a new version (every session
    /// re-resolves at its next request), spaces and hashes persisted.
    fn restore_catalog(&mut self, catalog: SharedCatalog) -> anyhow::Result<()> {
        self.roles.adopt(catalog.roles)?;
        self.catalog.replace(catalog.spaces)?;
        self.passwords.replace(catalog.hashes)?;
        Ok(())
    }

    /// This process's copy of the catalog.
    pub(crate) fn shared_catalog(&self) -> SharedCatalog {
        SharedCatalog::new(
            self.roles.clone(),
            self.catalog.space_set().clone(),
            self.passwords.all(),
        )
    }
}

/// Hands `command` to the worker; false (logged) when it cannot take it, so no turn waits
/// for an answer that will not come.
fn send(commands: &mpsc::Sender<Command>, command: Command) -> bool {
    match commands.try_send(command) {
        Ok(()) => true,
        Err(error) => {
            log!("the catalog worker took no command: {error}");
            false
        }
    }
}

fn failed_reply(message: String) -> Reply {
    Reply::ExecuteFailed { code: E_EXECUTION_ERROR, message, space_name: String::new() }
}
