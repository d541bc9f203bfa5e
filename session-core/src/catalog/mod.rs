//! Users, roles, spaces and passwords shared by many processes through one fenced register
//! (graphd on etcd: `graphsession_meta_etcd::CatalogRegister`), changed one **turn** at a time.
//!
//! NebulaGraph keeps its users and roles in its meta service and each graphd reloads them after a
//! heartbeat. A host of this crate that runs in many processes keeps a copy of the catalog in
//! each and shares it through a register: one value, a lock that one process holds at a time
//! (bound to its lease), writes fenced by the lock and by the revision the writer read, and a
//! watch that delivers every new value to every process. [`CatalogTurns`] is the rule each
//! process follows around its copy so that the register's history is a sequence of changes each
//! made on the newest value, so no acknowledged change is lost:
//!
//! 1. A statement that may change the catalog is parked ([`CatalogTurns::handle_statement`]).
//! 2. The host takes the register's lock and reads it ([`TurnCommand::Take`],
//!    [`CatalogTurns::handle_taken`]); a value newer than the copy is adopted first
//!    ([`TurnAction::Adopt`]).
//! 3. The statement runs on the (now newest) copy like any other ([`TurnAction::Run`]): every
//!    rule is still the node's and the permission crate's.
//! 4. Its reply is held ([`CatalogTurns::handle_reply`]). If the copy changed, the host writes it
//!    ([`TurnCommand::Write`]), and the reply goes out once the write is committed
//!    ([`TurnAction::Reply`]); a failed write puts the copy back ([`TurnAction::Restore`]) and
//!    fails the statement ([`TurnAction::Fail`]). While a write is under way
//!    ([`CatalogTurns::is_writing`]) the host runs nothing else, so none of its sessions uses a
//!    change the register may still refuse.
//! 5. The lock is released ([`TurnCommand::End`]) and the next parked statement takes its turn.
//!
//! Values other processes wrote arrive at any time ([`CatalogTurns::handle_delivered`]) and are
//! adopted, except during a turn (the turn's own read is the newest then).
//!
//! The host carries out every action and command the machine gives before its next input: in
//! particular a [`TurnAction::Run`] still queued when the statement's connection closes would
//! otherwise run after its turn ended, and its change would never be written. A statement is
//! done once it answered (or its connection closed) and no task of it runs
//! ([`CatalogTurns::handle_executing`]): only then is the copy final and written.
//!
//! The copy is opaque here: the host encodes it canonically (equal contents, equal bytes), so
//! "changed" and "newer than the copy" are byte comparisons. The machine reads no clock: the
//! lock's wait and the calls' timeouts are the host's, and every input is answered at once.
//!
//! ```
//! use graphsession_core::catalog::{CatalogTurns, RegisterRead, TurnAction, TurnCommand};
//!
//! let mut turns: CatalogTurns<u32, &str, &str> = CatalogTurns::new(256, 7);
//! let copy = b"root".to_vec();
//! turns.handle_statement(1, "CREATE USER alice").unwrap();
//! assert_eq!(turns.poll_command(), Some(TurnCommand::Take));
//! turns.handle_taken(Ok(RegisterRead { revision: 7, value: Some(copy.clone()) }), &copy);
//! assert_eq!(turns.poll_action(), Some(TurnAction::Run { key: 1, statement: "CREATE USER alice" }));
//! // The node ran it on the copy and replied: the reply is held, the change written.
//! assert_eq!(turns.handle_reply(1, "ok"), None);
//! let changed = b"root,alice".to_vec();
//! turns.handle_step_done(&changed);
//! assert_eq!(turns.poll_command(), Some(TurnCommand::Write { read_revision: 7, value: changed }));
//! assert!(turns.is_writing());
//! turns.handle_written(Ok(9));
//! assert_eq!(turns.poll_command(), Some(TurnCommand::End));
//! assert_eq!(turns.poll_action(), Some(TurnAction::Reply { key: 1, reply: "ok" }));
//! turns.check_invariants().unwrap();
//! ```

mod turns;

pub use turns::{CatalogTurns, RegisterRead, TurnAction, TurnCommand, TurnsFull};
