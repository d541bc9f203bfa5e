//! The server's snapshot, every way a host reads it back: [`Snapshot::from_bytes`] and
//! [`SessionManager::restore`] on raw bytes, on a real snapshot's bytes mutated by the input
//! (optionally with its length and checksum fixed up, so the mutation reaches the body decoder
//! and the validation instead of stopping at the checksum), and
//! [`SessionManager::restore_snapshot`] on JSON (raw, or a real snapshot's JSON with its checksum
//! fixed up). Bad bytes must give a typed
//! [`SnapshotError`](graphsession_core::server::SnapshotError), never a panic; a restored registry
//! must pass `check_invariants()` and keep every session's persisted fields (a snapshot of it
//! restores again to the same sessions).

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use graphsession_base::fnv1a64;
use graphsession_core::server::{
    Config, Login, PasswordCheck, RestoreParts, SessionManager, SessionRecord, Snapshot,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};

use super::{index, list, within};

#[path = "../../../session-core/tests/server_support/mod.rs"]
mod server_support;

use server_support::{IP, NOW, generators};

/// Magic (8), format version (4), checksum (8), body length (8).
const HEADER_BYTES: usize = 28;
const CHECKSUM_AT: usize = 12;
const LENGTH_AT: usize = 20;
const MUTATIONS_MAX: usize = 8;

/// The registry configuration a real snapshot is taken with and restored into.
fn config() -> Config {
    Config {
        idle_timeout_ms: 60_000,
        sessions_per_user_ip_max: 3,
        sessions_max: 16,
        failed_login_attempts: 2,
        password_lock_time_secs: 60,
        throttled_users_max: 4,
        policy: Policy::ENFORCED,
        shard_count: 4,
        session_history_max: 4,
        variables_per_session_max: 2,
        variable_bytes_max: 16,
        ..Config::default()
    }
}

/// A stricter configuration the same snapshot must be refused by or fit.
fn strict_config() -> Config {
    Config { sessions_per_user_ip_max: 1, sessions_max: 2, ..config() }
}

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    for user in ["alice", "bob"] {
        let created = table.create_user(&root, Policy::ENFORCED, user);
        assert_eq!(created, Ok(()), "creating {user}");
    }
    let granted = table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice");
    assert_eq!(granted, Ok(()), "granting alice");
    table
}

/// A registry with logged-in sessions, a USE, variables, a signed-out session in history and a
/// locked-out user: what a real node persists.
fn real_snapshot() -> &'static (Snapshot, Vec<u8>) {
    static SNAPSHOT: OnceLock<(Snapshot, Vec<u8>)> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let (ids, plans) = generators(3);
        let manager = SessionManager::new(config(), ids, plans);
        let manager = manager.unwrap_or_else(|error| panic!("the fixture registry: {error}"));
        let table = table();
        let mut sessions = Vec::new();
        for (step, (user, ip)) in [("root", IP), ("alice", IP), ("alice", "10.0.0.2"), ("bob", IP)]
            .into_iter()
            .enumerate()
        {
            let login = Login { user, client_ip: ip, password: PasswordCheck::Verified };
            let now = NOW + 10 * step as u64;
            let session = manager.login(now, login, &table);
            sessions.push(session.unwrap_or_else(|error| panic!("fixture login: {error}")));
        }
        let used = manager.use_space(NOW + 50, sessions[1].get(), "nba", &table);
        assert!(used.is_ok(), "fixture USE: {used:?}");
        let set = manager.set_variable(NOW + 60, sessions[0].get(), "a", "1");
        assert!(set.is_ok(), "fixture variable: {set:?}");
        assert!(manager.sign_out(NOW + 70, sessions[3].get()), "fixture sign-out");
        for _ in 0..2 {
            let login = Login { user: "bob", client_ip: IP, password: PasswordCheck::Rejected };
            assert!(manager.login(NOW + 80, login, &table).is_err(), "a rejected password");
        }
        let snapshot = manager.snapshot();
        let bytes = snapshot.to_bytes();
        (snapshot, bytes)
    })
}

/// Applies one mutation chosen by the input to `bytes`.
pub(crate) fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>) -> Result<()> {
    let at = index(u, bytes.len().max(1))?;
    match index(u, 6)? {
        0 => {
            if let Some(byte) = bytes.get_mut(at) {
                *byte ^= 1 << within(u, 0_u8..=7)?;
            }
        }
        1 => {
            if let Some(byte) = bytes.get_mut(at) {
                *byte = u.arbitrary()?;
            }
        }
        2 => bytes.truncate(at),
        3 => {
            let inserted: Vec<u8> = list(u, 16, |u| u.arbitrary::<u8>());
            let at = at.min(bytes.len());
            bytes.splice(at..at, inserted);
        }
        4 => {
            let end = at.saturating_add(within(u, 1_usize..=16)?).min(bytes.len());
            bytes.drain(at.min(end)..end);
        }
        _ => {
            // A little-endian u64 somewhere (a length, a time, an id).
            let value: u64 = *u.choose(&[0, 1, u64::MAX, u64::from(u32::MAX), 1 << 63])?;
            let end = at.saturating_add(8).min(bytes.len());
            let at = at.min(end);
            bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
        }
    }
    Ok(())
}

/// Rewrites the length and checksum fields to match the (mutated) body.
fn fix_header(bytes: &mut [u8]) {
    if bytes.len() < HEADER_BYTES {
        return;
    }
    let body_len = (bytes.len() - HEADER_BYTES) as u64;
    let checksum = fnv1a64(&bytes[HEADER_BYTES..]);
    bytes[LENGTH_AT..HEADER_BYTES].copy_from_slice(&body_len.to_le_bytes());
    bytes[CHECKSUM_AT..LENGTH_AT].copy_from_slice(&checksum.to_le_bytes());
}

/// A snapshot's checksum made right for its body (the body's canonical encoding is what
/// `to_bytes` writes after the header).
fn fix_checksum(snapshot: &mut Snapshot) {
    let bytes = snapshot.to_bytes();
    snapshot.checksum = fnv1a64(bytes.get(HEADER_BYTES..).unwrap_or_default());
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mode) = index(&mut u, 4) else { return };
    let strict = u.arbitrary::<bool>().unwrap_or(false);
    match mode {
        0 => restore_bytes(u.take_rest(), strict),
        1 => {
            let mut bytes = real_snapshot().1.clone();
            let fix = u.arbitrary::<bool>().unwrap_or(false);
            for _ in 0..MUTATIONS_MAX {
                if u.is_empty() || mutate(&mut u, &mut bytes).is_err() {
                    break;
                }
            }
            if fix {
                fix_header(&mut bytes);
            }
            restore_bytes(&bytes, strict);
        }
        2 => {
            if let Ok(snapshot) = serde_json::from_slice::<Snapshot>(u.take_rest()) {
                restore_value(snapshot, strict);
            }
        }
        _ => {
            let json = serde_json::to_vec(&real_snapshot().0);
            let mut json = json.unwrap_or_else(|error| panic!("a snapshot as JSON: {error}"));
            for _ in 0..MUTATIONS_MAX {
                if u.is_empty() || mutate(&mut u, &mut json).is_err() {
                    break;
                }
            }
            if let Ok(mut snapshot) = serde_json::from_slice::<Snapshot>(&json) {
                fix_checksum(&mut snapshot);
                restore_value(snapshot, strict);
            }
        }
    }
}

fn parts(table: &RoleTable, strict: bool) -> RestoreParts<'_> {
    // Leased above every id a snapshot can hold: slot 3 at a later time.
    let (session_ids, plan_ids) = generators(3);
    RestoreParts {
        config: if strict { strict_config() } else { config() },
        session_ids: Box::new(session_ids),
        plan_ids,
        table,
    }
}

/// Bytes: `from_bytes` and `restore` agree, and a success is a sound registry.
fn restore_bytes(bytes: &[u8], strict: bool) {
    let table = table();
    let decoded = Snapshot::from_bytes(bytes);
    let restored = SessionManager::restore(bytes, parts(&table, strict));
    match (decoded, restored) {
        (Ok(snapshot), Ok(manager)) => {
            assert_eq!(snapshot.to_bytes(), bytes, "decoding then encoding changed the bytes");
            check_restored(&snapshot, &manager, &table, strict);
        }
        (Ok(snapshot), Err(error)) => {
            // Decoded but refused by the validation: the same refusal from the value.
            let again = SessionManager::restore_snapshot(snapshot, parts(&table, strict));
            assert_eq!(again.err(), Some(error), "restore and restore_snapshot disagree");
        }
        (Err(decode_error), Err(restore_error)) => {
            assert_eq!(decode_error, restore_error, "restore and from_bytes disagree");
        }
        (Err(error), Ok(_)) => panic!("from_bytes refused ({error}) what restore accepted"),
    }
}

/// A value: a success is a sound registry.
fn restore_value(snapshot: Snapshot, strict: bool) {
    let table = table();
    if let Ok(manager) = SessionManager::restore_snapshot(snapshot.clone(), parts(&table, strict)) {
        check_restored(&snapshot, &manager, &table, strict);
    }
}

/// The persisted fields of a session (history gains a `Restored` entry at each restore).
fn persisted(record: &SessionRecord) -> SessionRecord {
    SessionRecord { history: Vec::new(), history_dropped: 0, ..record.clone() }
}

fn check_restored(snapshot: &Snapshot, manager: &SessionManager, table: &RoleTable, strict: bool) {
    if let Err(violation) = manager.check_invariants() {
        panic!("a restored registry breaks its invariants: {violation}");
    }
    // A snapshot lists sessions by id and lockouts by user; restore accepts any order.
    let again = manager.snapshot();
    let mut expected: Vec<SessionRecord> = snapshot.body.sessions.iter().map(persisted).collect();
    expected.sort_by_key(|record| record.id);
    let found: Vec<SessionRecord> = again.body.sessions.iter().map(persisted).collect();
    assert_eq!(found, expected, "restore changed the sessions");
    let mut lockouts = snapshot.body.lockouts.clone();
    lockouts.sort_by(|a, b| a.user.cmp(&b.user));
    assert_eq!(again.body.lockouts, lockouts, "restore changed the lockouts");
    let bytes = again.to_bytes();
    let twice = SessionManager::restore(&bytes, parts(table, strict));
    let twice = twice.unwrap_or_else(|error| panic!("a restored registry's snapshot: {error}"));
    if let Err(violation) = twice.check_invariants() {
        panic!("a twice-restored registry breaks its invariants: {violation}");
    }
    let found: Vec<SessionRecord> = twice.snapshot().body.sessions.iter().map(persisted).collect();
    assert_eq!(found, expected, "a second restore changed the sessions");
}

/// Hand-made valid inputs: a real snapshot's bytes (mode 0), the same snapshot mutated with
/// its header fixed up (mode 1) and its JSON (mode 2).
pub fn seeds() -> Vec<Vec<u8>> {
    let (snapshot, bytes) = real_snapshot();
    let json = serde_json::to_vec(snapshot).unwrap_or_default();
    vec![
        [&[0, 0][..], bytes].concat(),
        [&[0, 1][..], bytes].concat(),
        vec![1, 0, 1, 40, 1, 7],
        [&[2, 0][..], &json].concat(),
        vec![3, 1, 9, 2],
    ]
}
