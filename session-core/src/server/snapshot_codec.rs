//! The snapshot body's canonical binary encoding, field by field, on top of `codec.rs`'s
//! primitives. One encoding per value, so the checksum is well defined.

use std::collections::BTreeMap;

use graphsession_id_gen::SessionId;

use crate::server::audit::{Change, EndReason, HistoryEntry};
use crate::server::codec::{Decoder, Encoder};
use crate::server::error::SnapshotError;
use crate::server::metrics::NodeStats;
use crate::server::session::Origin;
use crate::server::snapshot::{LockoutRecord, SessionRecord, SnapshotBody};

pub(crate) fn encode_body(body: &SnapshotBody) -> Vec<u8> {
    let mut encoder = Encoder::default();
    encoder.u64(body.newest_unix_ms);
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
        encoder.u64(value);
    }
    encoder.len(body.sessions.len());
    for record in &body.sessions {
        encode_session(&mut encoder, record);
    }
    encoder.len(body.lockouts.len());
    for lockout in &body.lockouts {
        encoder.str(&lockout.user);
        encoder.u32(lockout.remaining_attempts);
        encoder.opt_u64(lockout.locked_until_unix_ms);
    }
    encoder.bytes
}

fn encode_session(encoder: &mut Encoder, record: &SessionRecord) {
    encoder.i64(record.id.get());
    encoder.str(&record.user);
    encoder.str(&record.client_ip);
    encoder.opt_str(record.space.as_deref());
    encoder.u64(record.space_set_unix_ms);
    encoder.u8(match record.origin {
        Origin::LoggedIn => 0,
        Origin::Installed => 1,
    });
    encoder.u64(record.created_unix_ms);
    encoder.u64(record.last_activity_unix_ms);
    encoder.u64(record.queries_run);
    encoder.u64(record.queries_killed);
    encoder.len(record.variables.len());
    for (name, value) in &record.variables {
        encoder.str(name);
        encoder.str(value);
    }
    encoder.len(record.history.len());
    for entry in &record.history {
        encoder.u64(entry.at_unix_ms);
        encode_change(encoder, &entry.change);
    }
    encoder.u32(record.history_dropped);
}

fn encode_change(encoder: &mut Encoder, change: &Change) {
    match change {
        Change::Created { client_ip } => {
            encoder.u8(0);
            encoder.str(client_ip);
        }
        Change::SpaceChanged { from, to } => {
            encoder.u8(1);
            encoder.opt_str(from.as_deref());
            encoder.str(to);
        }
        Change::VariableSet { name } => {
            encoder.u8(2);
            encoder.str(name);
        }
        Change::Restored => encoder.u8(3),
        Change::PickedUp { client_ip } => {
            encoder.u8(5);
            encoder.str(client_ip);
        }
        Change::Ended { reason, queries_killed } => {
            encoder.u8(4);
            match reason {
                EndReason::Expired { idle_ms } => {
                    encoder.u8(0);
                    encoder.u64(*idle_ms);
                }
                EndReason::Killed { by } => {
                    encoder.u8(1);
                    encoder.str(by);
                }
                EndReason::SignedOut => encoder.u8(2),
                EndReason::UserDropped => encoder.u8(3),
                EndReason::EndedElsewhere => encoder.u8(4),
            }
            encoder.u32(*queries_killed);
        }
    }
}

pub(crate) fn decode_body(decoder: &mut Decoder<'_>) -> Result<SnapshotBody, SnapshotError> {
    let newest_unix_ms = decoder.u64()?;
    let mut values = [0_u64; 10];
    for value in &mut values {
        *value = decoder.u64()?;
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
    let count = decoder.len()?;
    let mut sessions = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        sessions.push(decode_session(decoder)?);
    }
    let count = decoder.len()?;
    let mut lockouts = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        let user = decoder.string()?;
        let remaining_attempts = decoder.u32()?;
        let locked_until_unix_ms = decoder.opt_u64()?;
        lockouts.push(LockoutRecord { user, remaining_attempts, locked_until_unix_ms });
    }
    Ok(SnapshotBody { newest_unix_ms, stats, sessions, lockouts })
}

fn decode_session(decoder: &mut Decoder<'_>) -> Result<SessionRecord, SnapshotError> {
    let raw_id = decoder.i64()?;
    let id = SessionId::new(raw_id)
        .ok_or_else(|| SnapshotError::Invalid(format!("session id {raw_id} is not positive")))?;
    let user = decoder.string()?;
    let client_ip = decoder.string()?;
    let space = decoder.opt_string()?;
    let space_set_unix_ms = decoder.u64()?;
    let origin = match decoder.u8()? {
        0 => Origin::LoggedIn,
        1 => Origin::Installed,
        tag => return Err(SnapshotError::Invalid(format!("session {id}: origin tag {tag}"))),
    };
    let created_unix_ms = decoder.u64()?;
    let last_activity_unix_ms = decoder.u64()?;
    let queries_run = decoder.u64()?;
    let queries_killed = decoder.u64()?;
    let mut variables = BTreeMap::new();
    for _ in 0..decoder.len()? {
        let name = decoder.string()?;
        let value = decoder.string()?;
        if variables.insert(name, value).is_some() {
            return Err(SnapshotError::Invalid(format!("session {id}: a variable twice")));
        }
    }
    let count = decoder.len()?;
    let mut history = Vec::with_capacity(count.min(1_024));
    for _ in 0..count {
        let at_unix_ms = decoder.u64()?;
        history.push(HistoryEntry { at_unix_ms, change: decode_change(decoder)? });
    }
    let history_dropped = decoder.u32()?;
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

fn decode_change(decoder: &mut Decoder<'_>) -> Result<Change, SnapshotError> {
    Ok(match decoder.u8()? {
        0 => Change::Created { client_ip: decoder.string()? },
        1 => Change::SpaceChanged { from: decoder.opt_string()?, to: decoder.string()? },
        2 => Change::VariableSet { name: decoder.string()? },
        3 => Change::Restored,
        5 => Change::PickedUp { client_ip: decoder.string()? },
        4 => {
            let reason = match decoder.u8()? {
                0 => EndReason::Expired { idle_ms: decoder.u64()? },
                1 => EndReason::Killed { by: decoder.string()? },
                2 => EndReason::SignedOut,
                3 => EndReason::UserDropped,
                4 => EndReason::EndedElsewhere,
                tag => return Err(SnapshotError::Invalid(format!("end reason tag {tag}"))),
            };
            Change::Ended { reason, queries_killed: decoder.u32()? }
        }
        tag => return Err(SnapshotError::Invalid(format!("change tag {tag}"))),
    })
}
