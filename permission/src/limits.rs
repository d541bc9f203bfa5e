//! The bounds of a role table. The name checks that enforce them are in `names.rs`; this file
//! depends on nothing, so the error type can name the bounds in its messages.
//!
//! A role table is persisted by the host and copied into every session's [`Caller`](crate::Caller), so an
//! unbounded one is a memory problem for every node. The values are generous for real deployments and small
//! enough that a full table stays in the low megabytes.

/// Longest user name, in bytes. NebulaGraph's own limit (`kUsernameMaxLength`), so any NebulaGraph user fits.
pub const USER_NAME_BYTES_MAX: u32 = 16;
/// Longest space name, in bytes. NebulaGraph identifiers are short in practice; 256 bytes leaves room for
/// generated names while bounding each role entry.
pub const SPACE_NAME_BYTES_MAX: u32 = 256;
/// Most users (GOD users included) one table holds. NebulaGraph clusters have tens to thousands of users.
pub const USERS_MAX: u32 = 16_384;
/// Most distinct spaces that roles may name. NebulaGraph deployments have at most a few hundred spaces.
pub const SPACES_MAX: u32 = 4_096;
/// Most (user, space) roles in one table, so a table is bounded well below `USERS_MAX * SPACES_MAX`.
pub const ROLES_MAX: u32 = 262_144;
