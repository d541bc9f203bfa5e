//! Snapshot and restore: the registry as a versioned, checksummed value a host can persist.
//!
//! [`SessionManager::snapshot`] returns a [`Snapshot`]: serde-serializable (store it as JSON or
//! anything else), or [`Snapshot::to_bytes`] for the built-in binary form (magic, format version,
//! checksum, length, body). The checksum is FNV-1a-64 over the body's canonical binary encoding
//! (`snapshot_codec.rs`, over `graphsession_base::codec`), so it is checked whichever way the
//! snapshot travelled. Running queries are not kept: a restart ends them, as in NebulaGraph.
//!
//! [`SessionManager::restore`] validates everything (format version, checksum, every bound of
//! the configuration it is given, unique ids, per-(user, ip) counts of logged-in sessions within
//! the limit, times in order) before it builds anything, so corrupted or truncated input is a
//! [`SnapshotError`] and nothing is half-restored. Restored sessions keep their last activity:
//! those idle past the timeout expire at the next `handle_timeout`, as NebulaGraph drops them at
//! start-up.
//!
//! The snapshot is taken shard by shard: consistent per session, and across the node when no
//! call is in flight (a host persists it at shutdown or from its timer thread).

use std::collections::{BTreeMap, BTreeSet};

use graphsession_base::codec::{Reader, Writer};
use graphsession_base::fnv1a64;
use graphsession_base::sync::{Arc, Ordering, lock};
use graphsession_id_gen::PlanIdGenerator;
use graphsession_permission::{RoleTable, USER_NAME_BYTES_MAX};

use crate::server::audit::{Change, History, HistoryEntry};
use crate::server::config::{CLIENT_IP_BYTES_MAX, Config, NOW_UNIX_MS_MAX};
use crate::server::error::SnapshotError;
use crate::server::manager::SessionManager;
use crate::server::metrics::Counters;
use crate::server::session::{NewSession, Origin, SessionEntry};
use crate::server::snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};
use crate::server::snapshot_codec::{decode_body, encode_body};
use crate::server::throttle::Attempts;

/// The snapshot format this build writes and reads.
/// Version 2 added each session's `space_set_unix_ms` and `origin` (cluster sync).
pub const SNAPSHOT_FORMAT_VERSION: u32 = 2;
const MAGIC: [u8; 8] = *b"GSREGSNP";

/// A persisted registry: format version, checksum, body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// FNV-1a-64 of the body's canonical encoding.
    pub checksum: u64,
    /// The registry.
    pub body: SnapshotBody,
}

impl Snapshot {
    /// The built-in binary form: magic, format version, checksum, body length, body.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = encode_body(&self.body);
        // The magic, the version, the checksum and the length ahead of the body.
        let header_bytes = MAGIC.len() + 4 + 8 + 8;
        let mut writer = Writer::new(Vec::with_capacity(header_bytes + body.len()));
        writer.bytes(&MAGIC);
        writer.u32(self.format_version);
        writer.u64(self.checksum);
        writer.length(body.len());
        writer.bytes(&body);
        writer.into_inner()
    }

    /// Reads the binary form, checking magic, version, length and checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut reader = Reader::new(bytes);
        if reader.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
            return Err(SnapshotError::BadMagic);
        }
        let format_version = reader.u32()?;
        check_version(format_version)?;
        let checksum = reader.u64()?;
        let len = reader.length()?;
        let body_bytes = reader.take(len)?;
        if reader.remaining() > 0 {
            let bytes = u64::try_from(reader.remaining()).unwrap_or(u64::MAX);
            return Err(SnapshotError::TrailingBytes { bytes });
        }
        check_checksum(checksum, fnv1a64(body_bytes))?;
        let mut body_reader = Reader::new(body_bytes);
        let body = decode_body(&mut body_reader)?;
        if body_reader.remaining() > 0 {
            let bytes = u64::try_from(body_reader.remaining()).unwrap_or(u64::MAX);
            return Err(SnapshotError::TrailingBytes { bytes });
        }
        Ok(Snapshot { format_version, checksum, body })
    }
}

fn check_version(found: u32) -> Result<(), SnapshotError> {
    if found != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion {
            found,
            supported: SNAPSHOT_FORMAT_VERSION,
        });
    }
    Ok(())
}

fn check_checksum(stored: u64, computed: u64) -> Result<(), SnapshotError> {
    if stored != computed {
        return Err(SnapshotError::ChecksumMismatch { stored, computed });
    }
    Ok(())
}

/// What a restored registry is built with besides the snapshot.
#[derive(Debug)]
pub struct RestoreParts<'a> {
    /// The configuration (need not be the one the snapshot was taken with; it must admit it).
    pub config: Config,
    /// This node's session-id generator, leased above every id in the snapshot (boxed: any
    /// [`SessionIdSource`](graphsession_id_gen::SessionIdSource)).
    pub session_ids: Box<dyn graphsession_id_gen::SessionIdSource>,
    /// This node's plan-id generator.
    pub plan_ids: PlanIdGenerator,
    /// The role table, to resolve each session's caller.
    pub table: &'a RoleTable,
}

impl SessionManager {
    /// The registry as a [`Snapshot`]; taken shard by shard (consistent per
    /// session; across the node when no call is in flight). The same as
    /// [`capture`](Self::capture) followed by [`Capture::into_snapshot`](crate::server::Capture::into_snapshot),
    /// which a host that must not stop long uses to build the snapshot elsewhere.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.capture().into_snapshot()
    }

    /// Restores a registry from [`Snapshot::to_bytes`] output.
    pub fn restore(bytes: &[u8], parts: RestoreParts<'_>) -> Result<SessionManager, SnapshotError> {
        SessionManager::restore_snapshot(Snapshot::from_bytes(bytes)?, parts)
    }

    /// Restores a registry from a [`Snapshot`] the host deserialized itself; checks its version
    /// and checksum as [`restore`](Self::restore) does.
    pub fn restore_snapshot(
        snapshot: Snapshot,
        parts: RestoreParts<'_>,
    ) -> Result<SessionManager, SnapshotError> {
        check_version(snapshot.format_version)?;
        check_checksum(snapshot.checksum, fnv1a64(&encode_body(&snapshot.body)))?;
        parts.config.validate()?;
        validate(&snapshot.body, &parts.config)?;
        let SnapshotBody { newest_unix_ms, stats, sessions, lockouts } = snapshot.body;
        let counters = Counters::restore(&stats);
        let manager = SessionManager::build(
            parts.config,
            parts.session_ids,
            parts.plan_ids,
            newest_unix_ms,
            counters,
        );
        for record in sessions {
            manager.insert_restored(record, parts.table)?;
        }
        let entries = lockouts.into_iter().map(|lockout| {
            let attempts = match lockout.locked_until_unix_ms {
                Some(until_ms) => Attempts::Locked { until_ms },
                None => Attempts::Counting { remaining: lockout.remaining_attempts },
            };
            (lockout.user, attempts)
        });
        manager.throttle.restore(entries.collect());
        Ok(manager)
    }

    /// Inserts one validated session into a registry nobody else sees yet.
    fn insert_restored(
        &self,
        record: SessionRecord,
        table: &RoleTable,
    ) -> Result<(), SnapshotError> {
        let caller = (record.space.as_deref())
            .map(|space| self.callers.get(table, &record.user, Some(space)));
        // Unlimited: cannot fail. Counted first, so the session holds the shared pair.
        let pair = (self.user_ip.try_acquire(&record.user, &record.client_ip, None))
            .map_err(|_| SnapshotError::Invalid("a (user, ip) count overflowed".to_owned()))?;
        let reserved = self.node_count.try_reserve(u64::MAX);
        debug_assert!(reserved, "an unlimited reservation cannot fail");
        let new = NewSession {
            id: record.id,
            pair,
            now_unix_ms: record.created_unix_ms,
            caller,
            space_set_unix_ms: record.space_set_unix_ms,
            origin: record.origin,
        };
        let entry = Arc::new(SessionEntry::new(new));
        entry.queries_run.store(record.queries_run, Ordering::Relaxed);
        {
            let mut inner = lock(&entry.inner);
            let extras = inner.extras_mut();
            extras.queries_killed = record.queries_killed;
            extras.variables = record
                .variables
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect();
            extras.history =
                History { entries: record.history.into(), dropped: record.history_dropped };
            let restored =
                HistoryEntry { at_unix_ms: self.clock.newest_ms(), change: Change::Restored };
            extras.history.record(restored, self.config.session_history_max);
        }
        let shard = self.shard(record.id);
        let check_at_ms = record.last_activity_unix_ms.saturating_add(self.config.idle_timeout_ms);
        (shard.write().insert(entry, record.last_activity_unix_ms, check_at_ms)).map_err(|_| {
            SnapshotError::Invalid("more sessions than a registry holds".to_owned())
        })?;
        self.earliest_check_ms.fetch_min(check_at_ms, Ordering::AcqRel);
        Ok(())
    }
}

/// Everything restore checks before it builds anything.
fn validate(body: &SnapshotBody, config: &Config) -> Result<(), SnapshotError> {
    let fail = |what: String| Err(SnapshotError::Invalid(what));
    let count = u64::try_from(body.sessions.len()).unwrap_or(u64::MAX);
    if count > config.sessions_max {
        return fail(format!("{count} sessions, above sessions_max"));
    }
    // Every time the registry holds is at most NOW_UNIX_MS_MAX (activity <= newest).
    if body.newest_unix_ms > NOW_UNIX_MS_MAX {
        return fail(format!("newest time {} beyond NOW_UNIX_MS_MAX", body.newest_unix_ms));
    }
    let mut ids = BTreeSet::new();
    let mut user_ip: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for record in &body.sessions {
        if !ids.insert(record.id) {
            return fail(format!("session {} twice", record.id));
        }
        validate_session(record, config, body.newest_unix_ms)?;
        // Installed sessions were counted without a limit check (pick-up).
        if record.origin == Origin::Installed {
            continue;
        }
        let count = user_ip.entry((&record.user, &record.client_ip)).or_insert(0);
        *count = count.saturating_add(1);
        if config.user_ip_limit().is_some_and(|limit| *count > limit) {
            return fail(format!(
                "{} sessions of ({}, {}), above the limit",
                count, record.user, record.client_ip
            ));
        }
    }
    if body.lockouts.len() > config.throttled_users_max as usize {
        return fail("more lockouts than throttled_users_max".to_owned());
    }
    let users: BTreeSet<&str> = body.lockouts.iter().map(|lockout| lockout.user.as_str()).collect();
    if users.len() != body.lockouts.len() {
        return fail("a user's lockout twice".to_owned());
    }
    // Only what the throttle writes: locked with no attempts left, or counting within the
    // configured attempts (more would let a user guess past the limit).
    let admitted = |lockout: &LockoutRecord| match lockout.locked_until_unix_ms {
        Some(_) => lockout.remaining_attempts == 0,
        None => (1..=config.failed_login_attempts).contains(&lockout.remaining_attempts),
    };
    if let Some(lockout) = body.lockouts.iter().find(|lockout| !admitted(lockout)) {
        return fail(format!(
            "lockout of {}: {} attempts left, locked until {:?}",
            lockout.user, lockout.remaining_attempts, lockout.locked_until_unix_ms
        ));
    }
    Ok(())
}

fn validate_session(
    record: &SessionRecord,
    config: &Config,
    newest_ms: u64,
) -> Result<(), SnapshotError> {
    let fail = |what: &str| Err(SnapshotError::Invalid(format!("session {}: {what}", record.id)));
    if record.user.is_empty() || record.user.len() > USER_NAME_BYTES_MAX as usize {
        return fail("user name empty or too long");
    }
    if record.client_ip.len() > CLIENT_IP_BYTES_MAX as usize {
        return fail("client ip too long");
    }
    if record.space.as_ref().is_some_and(|space| {
        space.is_empty() || space.len() > graphsession_permission::SPACE_NAME_BYTES_MAX as usize
    }) {
        return fail("space name empty or too long");
    }
    if record.created_unix_ms > record.last_activity_unix_ms
        || record.last_activity_unix_ms > newest_ms
    {
        return fail("times out of order");
    }
    if record.variables.len() > config.variables_per_session_max as usize {
        return fail("more variables than variables_per_session_max");
    }
    let too_long = |(name, value): (&String, &String)| {
        name.len() + value.len() > config.variable_bytes_max as usize
    };
    if record.variables.iter().any(too_long) {
        return fail("a variable longer than variable_bytes_max");
    }
    if record.history.len() > config.session_history_max as usize {
        return fail("more history than session_history_max");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each bound restore checks, at its limit (admitted) and one past it (refused), on the
    //! snapshot body directly: through the public API a changed body needs a checksum recomputed
    //! over the private encoding, and a refusal says nothing about which check refused.

    use graphsession_id_gen::SessionId;

    use super::validate;
    use crate::server::audit::{Change, HistoryEntry};
    use crate::server::config::{CLIENT_IP_BYTES_MAX, Config, NOW_UNIX_MS_MAX};
    use crate::server::error::SnapshotError;
    use crate::server::metrics::NodeStats;
    use crate::server::session::Origin;
    use crate::server::snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};

    const NOW: u64 = 1_763_900_000_000;

    fn record(id: i64) -> SessionRecord {
        SessionRecord {
            id: SessionId::new(id).expect("positive"),
            user: "alice".to_owned(),
            client_ip: "10.0.0.1".to_owned(),
            space: Some("nba".to_owned()),
            space_set_unix_ms: NOW,
            origin: Origin::LoggedIn,
            created_unix_ms: NOW,
            last_activity_unix_ms: NOW,
            queries_run: 0,
            queries_killed: 0,
            variables: std::collections::BTreeMap::new(),
            history: Vec::new(),
            history_dropped: 0,
        }
    }

    fn body(sessions: Vec<SessionRecord>) -> SnapshotBody {
        SnapshotBody {
            newest_unix_ms: NOW,
            stats: NodeStats::default(),
            sessions,
            lockouts: vec![],
        }
    }

    /// The message of the refusal of `body` under `config`, `None` if it is admitted.
    fn refusal(body: &SnapshotBody, config: &Config) -> Option<String> {
        match validate(body, config) {
            Ok(()) => None,
            Err(SnapshotError::Invalid(what)) => Some(what),
            Err(other) => panic!("not an Invalid: {other}"),
        }
    }

    /// The refusal of one session changed by `change`, under the default configuration.
    fn session_refusal(change: impl FnOnce(&mut SessionRecord)) -> Option<String> {
        let mut session = record(1);
        change(&mut session);
        refusal(&body(vec![session]), &Config::default())
    }

    #[test]
    fn sessions_up_to_the_node_maximum_are_admitted() {
        let two = body(vec![record(1), record(2)]);
        assert_eq!(refusal(&two, &Config { sessions_max: 2, ..Config::default() }), None);
        let one = Config { sessions_max: 1, ..Config::default() };
        assert_eq!(refusal(&two, &one).as_deref(), Some("2 sessions, above sessions_max"));
    }

    #[test]
    fn the_newest_time_may_be_the_latest_the_registry_holds_and_no_later() {
        let mut latest = body(vec![]);
        latest.newest_unix_ms = NOW_UNIX_MS_MAX;
        assert_eq!(refusal(&latest, &Config::default()), None);
        latest.newest_unix_ms = NOW_UNIX_MS_MAX + 1;
        let expected = format!("newest time {} beyond NOW_UNIX_MS_MAX", NOW_UNIX_MS_MAX + 1);
        assert_eq!(refusal(&latest, &Config::default()), Some(expected));
    }

    #[test]
    fn a_session_id_twice_is_refused() {
        let twice = body(vec![record(1), record(1)]);
        assert_eq!(refusal(&twice, &Config::default()).as_deref(), Some("session 1 twice"));
    }

    #[test]
    fn logged_in_sessions_of_a_pair_up_to_its_limit_are_admitted_and_installed_ones_always() {
        let installed = |id| SessionRecord { origin: Origin::Installed, ..record(id) };
        let sessions = vec![record(1), record(2), installed(3), installed(4)];
        let limit = |max| Config { sessions_per_user_ip_max: max, ..Config::default() };
        assert_eq!(refusal(&body(sessions.clone()), &limit(2)), None);
        let expected = "2 sessions of (alice, 10.0.0.1), above the limit";
        assert_eq!(refusal(&body(sessions.clone()), &limit(1)).as_deref(), Some(expected));
        assert_eq!(refusal(&body(sessions), &limit(0)), None, "zero is unlimited");
    }

    fn lockout(user: &str, remaining_attempts: u32, locked: Option<u64>) -> LockoutRecord {
        LockoutRecord { user: user.to_owned(), remaining_attempts, locked_until_unix_ms: locked }
    }

    #[test]
    fn lockouts_up_to_the_table_bound_are_admitted_once_per_user() {
        let config =
            Config { failed_login_attempts: 3, throttled_users_max: 2, ..Config::default() };
        let mut two = body(vec![]);
        two.lockouts = vec![lockout("alice", 1, None), lockout("bob", 0, Some(NOW))];
        assert_eq!(refusal(&two, &config), None);
        let one = Config { throttled_users_max: 1, ..config.clone() };
        let expected = "more lockouts than throttled_users_max";
        assert_eq!(refusal(&two, &one).as_deref(), Some(expected));
        two.lockouts[1] = lockout("alice", 2, None);
        assert_eq!(refusal(&two, &config).as_deref(), Some("a user's lockout twice"));
    }

    #[test]
    fn only_lockouts_the_throttle_could_have_written_are_admitted() {
        let config = Config { failed_login_attempts: 3, ..Config::default() };
        for (remaining, locked, admitted) in [
            (0, Some(NOW), true),
            (1, Some(NOW), false),
            (0, None, false),
            (1, None, true),
            (3, None, true),
            (4, None, false),
        ] {
            let mut one = body(vec![]);
            one.lockouts = vec![lockout("alice", remaining, locked)];
            let expected =
                format!("lockout of alice: {remaining} attempts left, locked until {locked:?}");
            let expected = (!admitted).then_some(expected);
            assert_eq!(refusal(&one, &config), expected, "{remaining} {locked:?}");
        }
    }

    #[test]
    fn user_names_of_one_to_the_maximum_bytes_are_admitted() {
        let refused = Some("session 1: user name empty or too long".to_owned());
        assert_eq!(session_refusal(|session| session.user = "u".repeat(16)), None);
        assert_eq!(session_refusal(|session| session.user = "u".repeat(17)), refused);
        assert_eq!(session_refusal(|session| session.user = String::new()), refused);
    }

    #[test]
    fn client_ips_up_to_the_maximum_bytes_are_admitted() {
        let longest = "1".repeat(CLIENT_IP_BYTES_MAX as usize);
        assert_eq!(session_refusal(|session| session.client_ip = longest), None);
        let too_long = "1".repeat(CLIENT_IP_BYTES_MAX as usize + 1);
        let refused = Some("session 1: client ip too long".to_owned());
        assert_eq!(session_refusal(|session| session.client_ip = too_long), refused);
    }

    #[test]
    fn space_names_of_one_to_the_maximum_bytes_or_none_are_admitted() {
        let max = graphsession_permission::SPACE_NAME_BYTES_MAX as usize;
        let refused = Some("session 1: space name empty or too long".to_owned());
        assert_eq!(session_refusal(|session| session.space = None), None);
        assert_eq!(session_refusal(|session| session.space = Some("s".repeat(max))), None);
        assert_eq!(session_refusal(|session| session.space = Some("s".repeat(max + 1))), refused);
        assert_eq!(session_refusal(|session| session.space = Some(String::new())), refused);
    }

    #[test]
    fn times_must_run_from_creation_to_activity_to_the_newest() {
        let refused = Some("session 1: times out of order".to_owned());
        let at = |created, last| {
            move |session: &mut SessionRecord| {
                session.created_unix_ms = created;
                session.last_activity_unix_ms = last;
            }
        };
        assert_eq!(session_refusal(at(NOW - 1, NOW)), None);
        assert_eq!(session_refusal(at(NOW, NOW)), None);
        assert_eq!(session_refusal(at(NOW, NOW - 1)), refused);
        assert_eq!(session_refusal(at(NOW, NOW + 1)), refused);
    }

    #[test]
    fn variables_and_history_up_to_their_bounds_are_admitted() {
        let config = Config {
            variables_per_session_max: 2,
            variable_bytes_max: 4,
            session_history_max: 2,
            ..Config::default()
        };
        let with = |change: &dyn Fn(&mut SessionRecord)| {
            let mut session = record(1);
            change(&mut session);
            refusal(&body(vec![session]), &config)
        };
        let set = |session: &mut SessionRecord, pairs: &[(&str, &str)]| {
            session.variables =
                pairs.iter().map(|&(name, value)| (name.to_owned(), value.to_owned())).collect();
        };
        assert_eq!(with(&|session| set(session, &[("a", "bcd"), ("e", "f")])), None);
        let too_many = Some("session 1: more variables than variables_per_session_max".to_owned());
        assert_eq!(with(&|session| set(session, &[("a", "b"), ("c", "d"), ("e", "f")])), too_many);
        let too_long = Some("session 1: a variable longer than variable_bytes_max".to_owned());
        assert_eq!(with(&|session| set(session, &[("a", "bcde")])), too_long);
        let entry = HistoryEntry { at_unix_ms: NOW, change: Change::Restored };
        assert_eq!(with(&|session| session.history = vec![entry.clone(); 2]), None);
        let too_much = Some("session 1: more history than session_history_max".to_owned());
        assert_eq!(with(&|session| session.history = vec![entry.clone(); 3]), too_much);
    }
}
