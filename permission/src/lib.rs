//! The NebulaGraph role lattice and its permission rules, as pure functions, with privilege escalation
//! impossible.
//!
//! An engine that embeds this crate answers "may this session do this?" exactly as NebulaGraph users expect:
//! the same five roles ([`Role`]: GOD > ADMIN > DBA > USER > GUEST), the same rules, the same error codes and
//! messages ([`PermissionError`]), authorization on and off ([`Policy`]). It fixes three of NebulaGraph's
//! holes, numbered as in docs/fixes.md, which explains each with the tests that prove it:
//!
//! - **Fix 4, role changes reach open sessions.** NebulaGraph copies a user's roles into the session at login
//!   and never refreshes them, so a REVOKE or DROP USER does not stop a session that is already open. Here
//!   the [`RoleTable`] has a [`version`](RoleTable::version) bumped by every change; a session keeps a
//!   resolved [`Caller`] with the version it was read at and calls [`Caller::refresh`] at the start of every
//!   request: one integer comparison, and a re-resolve when anything changed (see [`caller`] for the
//!   protocol).
//! - **Fix 7, query text is private.** NebulaGraph's SHOW QUERIES shows every user's queries to everyone.
//!   Here [`may_see_queries_of`] lets a non-GOD caller see only its own user's queries: exactly those it may
//!   kill ([`check_kill_query`]).
//! - **Fix 8, no demotion of equals.** NebulaGraph lets an ADMIN grant DBA to another ADMIN, demoting them.
//!   Here GRANT and REVOKE may only change a user whose current role in the space is strictly below the
//!   caller's ([`check_role_change_target`]); GOD is exempt.
//!
//! # The model
//!
//! A user's [`Rights`] are GOD (everything everywhere) or one role per space. Ordered pointwise with GOD on
//! top, rights form a lattice ([`Rights::le`], [`Rights::meet`], [`Rights::join`]), and every check is
//! monotone in it: more rights never allow less. GOD is a flag on a user's rights, not a space role: it is
//! created only with the table ([`RoleTable::new`] makes NebulaGraph's `root`; [`RoleTable::with_god`]),
//! never granted, revoked or dropped.
//!
//! Every rule of the reference is a `check_*` function of (caller, policy, what is asked), gathered by
//! [`check`] over an [`Action`]; [`Statement`] maps each NebulaGraph statement kind to its action. The
//! table's transitions ([`RoleTable::create_user`], [`RoleTable::drop_user`], [`RoleTable::grant`],
//! [`RoleTable::revoke`], [`RoleTable::drop_space`]) re-check against the table's current rights, so no
//! stale session and no validator bug can escalate. A refused transition changes nothing.
//!
//! # Order of checks
//!
//! As NebulaGraph's `Validator::validate` does, a statement's semantic checks come before its permission
//! check: [`validate_statement`] (names within bounds, no GRANT to a GOD user; -1009 whoever asks), then
//! [`check_statement`] (-1008). The transitions follow the same order, then check existence, then fix 8;
//! `transition.rs` lists every step, and docs/fixes.md ("Order of checks") says why. Every SHOW statement
//! of NebulaGraph 3.x has its [`Statement`] kind and check, tabled in docs/show-statements.md.
//!
//! The crate is pure: no clock, no threads, no I/O. Everything is bounded ([`USERS_MAX`], [`SPACES_MAX`],
//! [`ROLES_MAX`], [`USER_NAME_BYTES_MAX`], [`SPACE_NAME_BYTES_MAX`]) with a typed error at each bound.
//!
//! # Example: an engine's validator
//!
//! ```
//! use graphsession_permission::{
//!     Caller, PermissionError, Policy, Role, RoleTable, Statement, check_statement,
//!     validate_statement,
//! };
//!
//! let policy = Policy { authorization_enabled: true };
//! let mut table = RoleTable::new(); // `root` is GOD
//! let root = Caller::resolve(&table, "root", None);
//! table.create_user(&root, policy, "alice")?;
//! table.grant(&root, policy, Role::User, "nba", "alice")?;
//!
//! // At login, then at the start of every request: refresh, then per statement its semantic checks
//! // and its permission check, in that order.
//! let mut alice = Caller::resolve(&table, "alice", None);
//! alice.refresh(&table);
//! let use_nba = Statement::Use { space: "nba" };
//! validate_statement(&table, &use_nba)?;
//! check_statement(&alice, policy, &use_nba)?;
//! alice.use_space(Some("nba"));
//! check_statement(&alice, policy, &Statement::Go)?;
//! check_statement(&alice, policy, &Statement::InsertVertices)?;
//! let create_tag = check_statement(&alice, policy, &Statement::CreateTag);
//! assert_eq!(create_tag, Err(PermissionError::WriteSchema));
//! assert_eq!(PermissionError::WriteSchema.code(), -1008);
//!
//! // Root demotes alice; her open session sees it at its next request (fix 4, docs/fixes.md).
//! table.grant(&root, policy, Role::Guest, "nba", "alice")?;
//! assert!(alice.refresh(&table));
//! let insert = check_statement(&alice, policy, &Statement::InsertVertices);
//! assert_eq!(insert.map_err(|e| e.to_string()), Err("PermissionError: No permission to write data.".into()));
//!
//! // GRANT to a GOD user can never succeed: a semantic error (-1009), before any permission check.
//! let grant_root = Statement::Grant { role: Role::Guest, space: "nba", user: "root" };
//! let refused = validate_statement(&table, &grant_root).unwrap_err();
//! assert_eq!(refused.to_string(), "SemanticError: User 'root' is GOD, cannot be granted.");
//! # Ok::<(), PermissionError>(())
//! ```
//!
//! # Performance
//!
//! Measured on the project's 2-core AMD EPYC (Zen 4) machine, 2026-11-23, with
//! `cargo bench -p graphsession-permission --bench check -- --warm-up-time 1 --measurement-time 3`
//! (criterion median, other processes reniced; the caller is resolved, as a session holds it):
//!
//! | check | time | target |
//! |---|---|---|
//! | `check_statement` GO (read data), allowed | 8.1 ns | at most 20 ns |
//! | `check_statement` INSERT (write data), allowed | 8.6 ns | at most 20 ns |
//! | `check_statement` CREATE SPACE, refused | 8.1 ns | at most 20 ns |
//! | `check_statement` USE of a non-current space (a lookup among six roles) | 15.4 ns | at most 20 ns |
//! | `check_statement` as GOD, write schema | 8.5 ns | at most 20 ns |
//! | `check_kill_query`, own query | 3.3 ns | at most 20 ns |
//! | `may_see_queries_of`, another user | 1.6 ns | at most 20 ns |
//! | `Caller::is_stale` (fix 4 of docs/fixes.md, once per request) | 1.1 ns | |

pub mod caller;
mod check;
mod error;
mod limits;
mod names;
mod policy;
mod rights;
mod role;
mod semantic;
mod statement;
mod table;
mod transition;
mod visibility;

pub use caller::Caller;
pub use check::{
    Action, check, check_kill_query, check_kill_session, check_read_current_space,
    check_read_space, check_read_user, check_revoke_role, check_role_change_target,
    check_show_roles, check_show_sessions, check_write_data, check_write_role, check_write_schema,
    check_write_space, check_write_user,
};
pub use error::{AdoptError, PermissionError, error_code};
/// What [`RoleTable::check_invariants`] returns (the workspace's one violation type).
pub use graphsession_base::Violation;
pub use limits::{ROLES_MAX, SPACE_NAME_BYTES_MAX, SPACES_MAX, USER_NAME_BYTES_MAX, USERS_MAX};
pub use names::check_user_name;
pub use policy::Policy;
pub use rights::Rights;
pub use role::{ParseRoleError, ROOT_USER, Role};
pub use semantic::validate_statement;
pub use statement::{Statement, check_statement};
pub use table::RoleTable;
pub use visibility::{may_see_queries_of, may_see_role_row, may_see_space};
