//! On etcd, users, roles, spaces and password hashes are one shared catalog (`shared_catalog.rs`)
//! in the cluster's catalog register, and a statement that may change them runs in a **turn**.
//! The protocol is the library's (`graphsession_core::catalog::CatalogTurns`, which the
//! simulator drives too): a statement is parked (at most [`PARKED_MAX`]), runs on its node once
//! this process holds the cluster's catalog lock and has the newest copy, and its reply is held
//! until the changed copy is written, fenced by the lock and the revision read; a failed write
//! puts the copy back and fails the statement, and while a write is under way nothing else runs
//! ([`Actor::turn_writing`]). Every other graphd follows the register and adopts each new value
//! (`RoleTable::adopt`), so its sessions see a GRANT or REVOKE at their next request after the
//! value arrives, usually within milliseconds; NebulaGraph's graphd reloads from meta every
//! heartbeat (10 s).
//!
//! Here is only the I/O: the worker task that takes the lock, writes and releases
//! (`CatalogRegister`), the check that a value read or delivered is one this build can use
//! (else the turn fails and nothing is written over it), and carrying out the machine's
//! actions on the node, the connections and the copy. Which statements may change the catalog
//! is the grammar's ([`changes_catalog`]); every rule stays the node's, the permission crate's
//! or the executor's.

use graphsession_core::catalog::{CatalogTurns, RegisterRead, TurnAction, TurnCommand};
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

/// The machine of this process's turns: statements keyed by their node and connection,
/// carried with their session, answered with the node's reply.
type Turns = CatalogTurns<(NodeIndex, ConnectionId), (i64, Statement), Reply>;

/// The actor's side of the shared catalog (etcd only): the rule is `CatalogTurns`', this is
/// its I/O.
#[derive(Debug)]
pub(crate) struct Shared {
    commands: mpsc::Sender<Command>,
    turns: Turns,
    /// The executor's task of the statement in its turn (CHANGE PASSWORD hashes off the loop).
    executing: Option<(QueryKey, (NodeIndex, ConnectionId))>,
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
        Shared { commands, turns: CatalogTurns::new(PARKED_MAX, adopted_revision), executing: None }
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
            Command::Take => Message::CatalogTurn(take(&register).await),
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

/// Takes the lock and reads the catalog; a value this build cannot use fails the turn, so no
/// change is ever written over a catalog it does not understand (a newer build's).
async fn take(register: &CatalogRegister) -> Result<CatalogTurn, String> {
    let read = register.take_turn(TURN_WAIT_MS).await.map_err(|error| error.to_string())?;
    if let Some(value) = &read.value {
        if let Err(error) = SharedCatalog::decode(value) {
            if let Err(released) = register.end_turn().await {
                log!("releasing the catalog lock failed: {released} (it goes with the lease)");
            }
            return Err(format!("the catalog in etcd cannot be used: {error:#}"));
        }
    }
    Ok(read)
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
        key: (NodeIndex, ConnectionId),
        (session_id, statement): (i64, Statement),
        changes: bool,
    ) {
        let Some(shared) = self.shared.as_mut().filter(|_| changes) else {
            let request = Request::Execute { session_id, statement };
            let (node, connection) = key;
            return self.nodes[node].node.handle_request(now, connection, request, &mut self.roles);
        };
        if let Err(full) = shared.turns.handle_statement(key, (session_id, statement)) {
            return self.deliver(now, key.0, key.1, failed_reply(full.to_string()));
        }
        self.pump(now);
    }

    /// Carries out what the turns ask, until they ask nothing; whether anything was done.
    fn pump(&mut self, now: u64) -> bool {
        let mut acted = false;
        loop {
            let Some(shared) = self.shared.as_mut() else { return acted };
            if let Some(command) = shared.turns.poll_command() {
                acted = true;
                self.command(command);
                continue;
            }
            let Some(action) = shared.turns.poll_action() else { return acted };
            acted = true;
            match action {
                TurnAction::Adopt { revision, value } => {
                    if let Err(error) = self.take_value(&value) {
                        log!("the catalog at revision {revision} was not taken: {error:#}");
                    }
                }
                TurnAction::Restore { value } => {
                    log!("a catalog change was not stored in etcd and is undone");
                    if let Err(error) = self.take_value(&value) {
                        log!("undoing it failed: {error:#}");
                    }
                }
                TurnAction::Run { key: (node, connection), statement: (session_id, statement) } => {
                    if let Some(host) = self.nodes.get_mut(node) {
                        let request = Request::Execute { session_id, statement };
                        host.node.handle_request(now, connection, request, &mut self.roles);
                    }
                }
                TurnAction::Reply { key: (node, connection), reply } => {
                    self.deliver(now, node, connection, reply);
                }
                TurnAction::Fail { key: (node, connection), message } => {
                    log!("a catalog change failed: {message}");
                    self.deliver(now, node, connection, failed_reply(message));
                }
            }
        }
    }

    /// Hands `command` to the worker; one it cannot take is answered as a failure at once, so
    /// no turn waits for an answer that will not come.
    fn command(&mut self, command: TurnCommand) {
        let Some(shared) = self.shared.as_mut() else { return };
        let (sent, lost) = match command {
            TurnCommand::Take => (send(&shared.commands, Command::Take), Some(true)),
            TurnCommand::Write { read_revision, value } => {
                let turn = CatalogTurn { revision: read_revision, value: None };
                (send(&shared.commands, Command::Write { turn, value }), Some(false))
            }
            TurnCommand::End => (send(&shared.commands, Command::End), None),
        };
        if sent {
            return;
        }
        let gone = "the catalog worker took no command".to_owned();
        match lost {
            Some(true) => {
                let current = self.shared_catalog().encode();
                if let Some(shared) = self.shared.as_mut() {
                    shared.turns.handle_taken(Err(gone), &current);
                }
            }
            Some(false) => {
                if let Some(shared) = self.shared.as_mut() {
                    shared.turns.handle_written(Err(gone));
                }
            }
            None => {}
        }
    }

    /// The worker took the lock and read the catalog (or could not).
    pub(crate) fn turn_taken(&mut self, now: u64, taken: Result<CatalogTurn, String>) {
        if self.shared.is_none() {
            return;
        }
        let current = self.shared_catalog().encode();
        let read = taken.map(|read| RegisterRead { revision: read.revision, value: read.value });
        if let Some(shared) = self.shared.as_mut() {
            shared.turns.handle_taken(read, &current);
        }
        self.pump(now);
    }

    /// A reply on `(node, connection)`: held when it is the reply of the statement in its turn.
    pub(crate) fn hold_turn_reply(
        &mut self,
        node: NodeIndex,
        connection: ConnectionId,
        reply: Reply,
    ) -> Option<Reply> {
        match self.shared.as_mut() {
            Some(shared) => shared.turns.handle_reply((node, connection), reply),
            None => Some(reply),
        }
    }

    /// The executor took a statement off the loop (`Outcome::Later`).
    pub(crate) fn turn_executing(
        &mut self,
        node: NodeIndex,
        connection: ConnectionId,
        key: QueryKey,
    ) {
        if let Some(shared) = self.shared.as_mut() {
            shared.turns.handle_executing((node, connection));
            shared.executing = Some((key, (node, connection)));
        }
    }

    /// An executor task returned.
    pub(crate) fn turn_executed(&mut self, node: NodeIndex, key: QueryKey) {
        if let Some(shared) = self.shared.as_mut() {
            if let Some((running, turn_key)) = shared.executing {
                if running == key && turn_key.0 == node {
                    shared.executing = None;
                    shared.turns.handle_executed(turn_key);
                }
            }
        }
    }

    /// `connection` of `node` closed.
    pub(crate) fn turn_closed(&mut self, node: NodeIndex, connection: ConnectionId) {
        if let Some(shared) = self.shared.as_mut() {
            shared.turns.handle_closed((node, connection));
        }
    }

    /// After every step: a turn whose statement is done writes its change, or ends; what
    /// that gives (a reply sent on, the next statement of a script) runs until it settles.
    pub(crate) fn advance_turn(&mut self, now: u64) {
        loop {
            self.drain(now);
            let Some(shared) = self.shared.as_ref() else { return };
            if shared.turns.in_turn() && !shared.turns.is_writing() {
                let current = self.shared_catalog().encode();
                if let Some(shared) = self.shared.as_mut() {
                    shared.turns.handle_step_done(&current);
                }
            }
            if !self.pump(now) {
                return;
            }
        }
    }

    /// Whether a turn's change is being written: until it is, nothing else runs (see
    /// [`Actor::run`](crate::actor::Actor::run)), so no session uses a change etcd may refuse.
    pub(crate) fn turn_writing(&self) -> bool {
        self.shared.as_ref().is_some_and(|shared| shared.turns.is_writing())
    }

    /// The worker wrote the turn's change (or could not).
    pub(crate) fn turn_written(&mut self, now: u64, written: Result<i64, String>) {
        if let Some(shared) = self.shared.as_mut() {
            shared.turns.handle_written(written);
        }
        self.pump(now);
    }

    /// Another graphd's change (or this one's own write) arrived from etcd.
    pub(crate) fn catalog_changed(&mut self, now: u64, revision: i64, value: Vec<u8>) {
        if self.shared.is_none() {
            return;
        }
        if let Err(error) = SharedCatalog::decode(&value) {
            log!("the catalog in etcd at revision {revision} is not taken: {error:#}");
            return;
        }
        let current = self.shared_catalog().encode();
        if let Some(shared) = self.shared.as_mut() {
            shared.turns.handle_delivered(revision, value, &current);
        }
        self.pump(now);
    }

    /// Takes the encoded catalog `value` (checked when it arrived) as this process's copy:
    /// roles under a new version (every session re-resolves at its next request), spaces and
    /// hashes persisted.
    fn take_value(&mut self, value: &[u8]) -> anyhow::Result<()> {
        let catalog = SharedCatalog::decode(value)?;
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

    /// Checks the turns' invariants (debug builds, after every step).
    pub(crate) fn check_turns(&self) -> Result<(), graphsession_core::Violation> {
        self.shared.as_ref().map_or(Ok(()), |shared| shared.turns.check_invariants())
    }
}

/// Hands `command` to the worker; false (logged) when it cannot take it.
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
