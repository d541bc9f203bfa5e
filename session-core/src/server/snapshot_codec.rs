//! The snapshot body's canonical binary encoding, field by field, on top of the primitives of
//! `graphsession_base::codec`. One encoding per value, so the checksum is well defined.

use std::collections::BTreeMap;

use graphsession_base::codec::{Reader, Writer};
use graphsession_id_gen::SessionId;

use crate::server::audit::{Change, EndReason, HistoryEntry};
use crate::server::error::SnapshotError;
use crate::server::metrics::NodeStats;
use crate::server::session::Origin;
use crate::server::snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};

pub(crate) fn encode_body(body: &SnapshotBody) -> Vec<u8> {
    let mut writer = Writer::new(Vec::with_capacity(body_bytes_estimate(body)));
    writer.u64(body.newest_unix_ms);
    let stats = &body.stats;
    for value in [
        stats.opened,
        stats.expired,
        stats.killed,
        stats.signed_out,
        stats.user_dropped,
        stats.refused_by_limit,
        stats.refused_by_node_max,
        stats.refused_by_password,
        stats.refused_other,
        stats.queries_started,
    ] {
        writer.u64(value);
    }
    writer.length(body.sessions.len());
    for record in &body.sessions {
        encode_session(&mut writer, record);
    }
    writer.length(body.lockouts.len());
    for lockout in &body.lockouts {
        writer.str(&lockout.user);
        writer.u32(lockout.remaining_attempts);
        writer.opt_u64(lockout.locked_until_unix_ms);
    }
    writer.into_inner()
}

/// Bytes the header takes: the clock and the ten counters, two lengths.
const HEADER_BYTES: usize = 13 * 8;
/// Bytes a session takes at least: its fixed fields and the lengths of its strings and lists,
/// with a short user and ip.
const SESSION_BYTES_MIN: usize = 128;
/// Bytes a lockout takes at least, with a short user.
const LOCKOUT_BYTES_MIN: usize = 32;

/// A lower estimate of the body's encoded size, to reserve the buffer once instead of growing
/// it a dozen times; a larger body still grows it as needed.
fn body_bytes_estimate(body: &SnapshotBody) -> usize {
    let sessions = body.sessions.len().saturating_mul(SESSION_BYTES_MIN);
    let lockouts = body.lockouts.len().saturating_mul(LOCKOUT_BYTES_MIN);
    HEADER_BYTES.saturating_add(sessions).saturating_add(lockouts)
}

fn encode_session(writer: &mut Writer, record: &SessionRecord) {
    writer.i64(record.id.get());
    writer.str(&record.user);
    writer.str(&record.client_ip);
    writer.opt_str(record.space.as_deref());
    writer.u64(record.space_set_unix_ms);
    writer.u8(match record.origin {
        Origin::LoggedIn => 0,
        Origin::Installed => 1,
    });
    writer.u64(record.created_unix_ms);
    writer.u64(record.last_activity_unix_ms);
    writer.u64(record.queries_run);
    writer.u64(record.queries_killed);
    writer.length(record.variables.len());
    for (name, value) in &record.variables {
        writer.str(name);
        writer.str(value);
    }
    writer.length(record.history.len());
    for entry in &record.history {
        writer.u64(entry.at_unix_ms);
        encode_change(writer, &entry.change);
    }
    writer.u32(record.history_dropped);
}

fn encode_change(writer: &mut Writer, change: &Change) {
    match change {
        Change::Created { client_ip } => {
            writer.u8(0);
            writer.str(client_ip);
        }
        Change::SpaceChanged { from, to } => {
            writer.u8(1);
            writer.opt_str(from.as_deref());
            writer.str(to);
        }
        Change::VariableSet { name } => {
            writer.u8(2);
            writer.str(name);
        }
        Change::Restored => writer.u8(3),
        Change::PickedUp { client_ip } => {
            writer.u8(5);
            writer.str(client_ip);
        }
        Change::Ended { reason, queries_killed } => {
            writer.u8(4);
            match reason {
                EndReason::Expired { idle_ms } => {
                    writer.u8(0);
                    writer.u64(*idle_ms);
                }
                EndReason::Killed { by } => {
                    writer.u8(1);
                    writer.str(by);
                }
                EndReason::SignedOut => writer.u8(2),
                EndReason::UserDropped => writer.u8(3),
                EndReason::EndedElsewhere => writer.u8(4),
            }
            writer.u32(*queries_killed);
        }
    }
}

pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<SnapshotBody, SnapshotError> {
    let newest_unix_ms = reader.u64()?;
    let mut values = [0_u64; 10];
    for value in &mut values {
        *value = reader.u64()?;
    }
    let [
        opened,
        expired,
        killed,
        signed_out,
        user_dropped,
        refused_by_limit,
        refused_by_node_max,
        refused_by_password,
        refused_other,
        queries_started,
    ] = values;
    let stats = NodeStats {
        opened,
        expired,
        killed,
        signed_out,
        user_dropped,
        refused_by_limit,
        refused_by_node_max,
        refused_by_password,
        refused_other,
        queries_started,
        ..NodeStats::default()
    };
    let count = reader.length()?;
    let mut sessions = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        sessions.push(decode_session(reader)?);
    }
    let count = reader.length()?;
    let mut lockouts = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        let user = reader.string()?;
        let remaining_attempts = reader.u32()?;
        let locked_until_unix_ms = reader.opt_u64()?;
        lockouts.push(LockoutRecord { user, remaining_attempts, locked_until_unix_ms });
    }
    Ok(SnapshotBody { newest_unix_ms, stats, sessions, lockouts })
}

fn decode_session(reader: &mut Reader<'_>) -> Result<SessionRecord, SnapshotError> {
    let raw_id = reader.i64()?;
    let id = SessionId::new(raw_id)
        .ok_or_else(|| SnapshotError::Invalid(format!("session id {raw_id} is not positive")))?;
    let user = reader.string()?;
    let client_ip = reader.string()?;
    let space = reader.opt_string()?;
    let space_set_unix_ms = reader.u64()?;
    let origin = match reader.u8()? {
        0 => Origin::LoggedIn,
        1 => Origin::Installed,
        tag => return Err(SnapshotError::Invalid(format!("session {id}: origin tag {tag}"))),
    };
    let created_unix_ms = reader.u64()?;
    let last_activity_unix_ms = reader.u64()?;
    let queries_run = reader.u64()?;
    let queries_killed = reader.u64()?;
    let mut variables = BTreeMap::new();
    for _ in 0..reader.length()? {
        let name = reader.string()?;
        let value = reader.string()?;
        if variables.insert(name, value).is_some() {
            return Err(SnapshotError::Invalid(format!("session {id}: a variable twice")));
        }
    }
    let count = reader.length()?;
    let mut history = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        let at_unix_ms = reader.u64()?;
        history.push(HistoryEntry { at_unix_ms, change: decode_change(reader)? });
    }
    let history_dropped = reader.u32()?;
    Ok(SessionRecord {
        id,
        user,
        client_ip,
        space,
        space_set_unix_ms,
        origin,
        created_unix_ms,
        last_activity_unix_ms,
        queries_run,
        queries_killed,
        variables,
        history,
        history_dropped,
    })
}

fn decode_change(reader: &mut Reader<'_>) -> Result<Change, SnapshotError> {
    Ok(match reader.u8()? {
        0 => Change::Created { client_ip: reader.string()? },
        1 => Change::SpaceChanged { from: reader.opt_string()?, to: reader.string()? },
        2 => Change::VariableSet { name: reader.string()? },
        3 => Change::Restored,
        5 => Change::PickedUp { client_ip: reader.string()? },
        4 => {
            let reason = match reader.u8()? {
                0 => EndReason::Expired { idle_ms: reader.u64()? },
                1 => EndReason::Killed { by: reader.string()? },
                2 => EndReason::SignedOut,
                3 => EndReason::UserDropped,
                4 => EndReason::EndedElsewhere,
                tag => return Err(SnapshotError::Invalid(format!("end reason tag {tag}"))),
            };
            Change::Ended { reason, queries_killed: reader.u32()? }
        }
        tag => return Err(SnapshotError::Invalid(format!("change tag {tag}"))),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use graphsession_base::codec::Reader;
    use graphsession_base::fnv1a64;
    use graphsession_id_gen::SessionId;

    use super::{decode_body, encode_body};
    use crate::server::audit::{Change, EndReason, HistoryEntry};
    use crate::server::error::SnapshotError;
    use crate::server::metrics::NodeStats;
    use crate::server::session::Origin;
    use crate::server::snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};

    fn every_change() -> Vec<Change> {
        let ended = |reason| Change::Ended { reason, queries_killed: 7 };
        vec![
            Change::Created { client_ip: "10.0.0.1".to_owned() },
            Change::SpaceChanged { from: None, to: "nba".to_owned() },
            Change::SpaceChanged { from: Some("nba".to_owned()), to: "wnba".to_owned() },
            Change::VariableSet { name: "k".to_owned() },
            Change::Restored,
            Change::PickedUp { client_ip: "10.0.0.2".to_owned() },
            ended(EndReason::Expired { idle_ms: 9 }),
            ended(EndReason::Killed { by: "root".to_owned() }),
            ended(EndReason::SignedOut),
            ended(EndReason::UserDropped),
            ended(EndReason::EndedElsewhere),
        ]
    }

    fn session(id: i64, origin: Origin) -> SessionRecord {
        let history = (every_change().into_iter().zip(1..))
            .map(|(change, at_unix_ms)| HistoryEntry { at_unix_ms, change })
            .collect();
        SessionRecord {
            id: SessionId::new(id).expect("positive"),
            user: "alice".to_owned(),
            client_ip: "10.0.0.1".to_owned(),
            space: (origin == Origin::LoggedIn).then(|| "nba".to_owned()),
            space_set_unix_ms: 11,
            origin,
            created_unix_ms: 12,
            last_activity_unix_ms: 13,
            queries_run: 14,
            queries_killed: 15,
            variables: BTreeMap::from([
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
            ]),
            history,
            history_dropped: 16,
        }
    }

    fn body() -> SnapshotBody {
        let stats = NodeStats {
            active: 0,
            opened: 1,
            expired: 2,
            killed: 3,
            signed_out: 4,
            user_dropped: 5,
            refused_by_limit: 6,
            refused_by_node_max: 7,
            refused_by_password: 8,
            refused_other: 9,
            queries_started: 10,
            events_queued: 0,
            events_dropped: 0,
        };
        let lockouts = vec![
            LockoutRecord {
                user: "bob".to_owned(),
                remaining_attempts: 2,
                locked_until_unix_ms: None,
            },
            LockoutRecord {
                user: "carol".to_owned(),
                remaining_attempts: 0,
                locked_until_unix_ms: Some(17),
            },
        ];
        let sessions = vec![session(1, Origin::LoggedIn), session(2, Origin::Installed)];
        SnapshotBody { newest_unix_ms: 18, stats, sessions, lockouts }
    }

    fn decode(bytes: &[u8]) -> Result<SnapshotBody, SnapshotError> {
        let mut reader = Reader::new(bytes);
        let body = decode_body(&mut reader)?;
        assert_eq!(reader.remaining(), 0);
        Ok(body)
    }

    /// `bytes` with the first occurrence of `from` replaced by `to` (of the same length).
    fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = bytes.windows(from.len()).position(|window| window == from).expect("present");
        let mut patched = bytes.to_vec();
        patched[at..at + to.len()].copy_from_slice(to);
        patched
    }

    #[test]
    fn every_field_and_every_change_round_trips() {
        let body = body();
        assert_eq!(decode(&encode_body(&body)), Ok(body));
    }

    #[test]
    fn the_encoding_is_the_one_every_build_of_this_format_wrote() {
        // Computed by the encoder before it moved to graphsession-base: a snapshot a host
        // persisted must still restore after an upgrade.
        let bytes = encode_body(&body());
        assert_eq!((bytes.len(), fnv1a64(&bytes)), (869, 0x2b9e_47e5_8cab_8095));
    }

    #[test]
    fn a_non_positive_id_an_unknown_tag_or_a_variable_twice_is_invalid() {
        let bytes = encode_body(&body());
        let invalid = |what: &str| Err(SnapshotError::Invalid(what.to_owned()));
        // The first session's id follows the newest time, ten counters and the session count.
        let id_at = 8 * 12;
        let mut zero_id = bytes.clone();
        zero_id[id_at..id_at + 8].copy_from_slice(&0_i64.to_le_bytes());
        assert_eq!(decode(&zero_id), invalid("session id 0 is not positive"));
        // The origin tag follows the space's time (11) of the first session.
        let origin = patched(&bytes, &[11, 0, 0, 0, 0, 0, 0, 0, 0], &[11, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(decode(&origin), invalid("session 1: origin tag 2"));
        // Variable "b" renamed "a".
        let twice =
            patched(&bytes, &[1, 0, 0, 0, 0, 0, 0, 0, b'b'], &[1, 0, 0, 0, 0, 0, 0, 0, b'a']);
        assert_eq!(decode(&twice), invalid("session 1: a variable twice"));
        // The history entry at 5 is Restored (tag 3): make it tag 6; the one at 8 is killed by
        // "root" (reason tag 1 after change tag 4): make the reason tag 5.
        let change = patched(&bytes, &[5, 0, 0, 0, 0, 0, 0, 0, 3], &[5, 0, 0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(decode(&change), invalid("change tag 6"));
        let reason =
            patched(&bytes, &[8, 0, 0, 0, 0, 0, 0, 0, 4, 1], &[8, 0, 0, 0, 0, 0, 0, 0, 4, 5]);
        assert_eq!(decode(&reason), invalid("end reason tag 5"));
    }
}
