//! One entry of the log ([`LogEntry`]): a node's request with the `now` its host chose, or a
//! timer tick with the leader's `now`. Every replica applies the same entries in etcd's revision
//! order to its `MetaStore`, which is deterministic, so every replica holds the same state.
//!
//! An entry is one etcd value, so its size must fit etcd's request limit *by design*:
//! [`entry_bytes_bound`] is the largest JSON encoding a request within the meta configuration's
//! limits can have, and [`check_limits`] refuses a configuration whose bound exceeds
//! `entry_bytes_max` before anything is written.

use graphsession_core::cluster::{MetaConfig, NodeId, Request};

use crate::error::MetaEtcdError;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogEntry {
    /// `node`'s request, applied at `now_unix_ms` (its host's clock).
    Request {
        /// The appender's clock, Unix ms.
        now_unix_ms: u64,
        /// The node.
        node: NodeId,
        /// What it asks.
        request: Box<Request>,
    },
    /// `MetaStore::handle_timeout` at `now_unix_ms` (the leader's clock).
    Tick {
        /// The leader's clock, Unix ms.
        now_unix_ms: u64,
    },
}

impl LogEntry {
    /// The entry's bytes in the log.
    pub fn encode(&self) -> Vec<u8> {
        // A value of plain fields and lists: serializing to memory cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry from the log's bytes.
    pub fn decode(key: &str, bytes: &[u8]) -> Result<LogEntry, MetaEtcdError> {
        serde_json::from_slice(bytes).map_err(|error| MetaEtcdError::Corrupt {
            key: key.to_owned(),
            detail: error.to_string(),
        })
    }
}

/// The largest JSON a number of up to 20 digits, a string of `text_bytes_max` bytes (each
/// escaped as `\u00XX` at worst) and the fixed text of each value may take: an upper bound of
/// the encoding of any request the meta store would accept under `meta`.
pub fn entry_bytes_bound(meta: &MetaConfig) -> usize {
    let items = meta.request_items_max as usize;
    let text = 6 * meta.text_bytes_max as usize + 2;
    let number = 20;
    // Field names, quotes, braces and commas of each value, generously rounded up.
    let report = 200 + 5 * number + 3 * text;
    let vote = 100 + 3 * number;
    let removal = 80 + number;
    let id = number + 1;
    let kill = 120 + 2 * number + text;
    // A reported query: its key, start time, status and statement.
    let query = 120 + 3 * number + text;
    let fixed = 640 + 4 * number;
    // Released sessions, pick-ups and SHOW SESSION's ids are ids.
    fixed + items * (2 * report + vote + removal + id + kill + id + query + id)
}

/// Refuses a meta configuration whose requests may not fit one log entry.
pub fn check_limits(meta: &MetaConfig, entry_bytes_max: usize) -> Result<(), MetaEtcdError> {
    meta.validate()?;
    if entry_bytes_bound(meta) > entry_bytes_max {
        return Err(MetaEtcdError::Config {
            field: "request_items_max",
            reason: "a request within the meta limits may not fit entry_bytes_max",
        });
    }
    Ok(())
}

/// A meta configuration whose every request fits a 1 MiB entry: 64 items per list, names of at
/// most 256 bytes; the rest as `base`.
pub fn etcd_meta_config(base: MetaConfig) -> MetaConfig {
    MetaConfig { request_items_max: 64, text_bytes_max: 256, ..base }
}

#[cfg(test)]
mod tests {
    //! The bound holds for the largest request the limits allow, and the etcd configuration
    //! fits a 1 MiB entry.

    use graphsession_core::cluster::{
        IdleVote, MetaConfig, NodeId, QueryKill, QueryReport, Removal, RemoveReason, Request,
        RequestId, SessionReport,
    };
    use graphsession_id_gen::{PlanId, SessionId};
    use graphsession_query_plan::{QueryKey, QueryStatus};

    use super::{LogEntry, check_limits, entry_bytes_bound, etcd_meta_config};

    fn largest_request(meta: &MetaConfig) -> Request {
        let items = meta.request_items_max as usize;
        let text = "\u{1}".repeat(meta.text_bytes_max as usize);
        let session = SessionId::new(i64::MAX).unwrap();
        let report = SessionReport {
            session,
            user: text.clone(),
            client_ip: text.clone(),
            space: text.clone(),
            space_set_unix_ms: u64::MAX,
            created_unix_ms: u64::MAX,
            last_activity_unix_ms: u64::MAX,
            running_queries: u32::MAX,
        };
        let vote = IdleVote { session, last_activity_unix_ms: u64::MAX, voted_unix_ms: u64::MAX };
        let key = QueryKey { session, plan: PlanId::from_u64(u64::MAX) };
        let query = QueryReport {
            key,
            start_time_unix_us: u64::MAX,
            status: QueryStatus::Killing,
            statement: text.clone(),
        };
        let kill = QueryKill { key, caller_user: text, caller_is_god: false };
        Request {
            id: RequestId { incarnation: u64::MAX, round: u64::MAX },
            changes_seen_seq: u64::MAX,
            reload: Some(graphsession_core::cluster::ReloadFrom { after: Some(session) }),
            created: vec![report.clone(); items],
            updated: vec![report; items],
            idle: vec![vote; items],
            removals: vec![Removal { session, reason: RemoveReason::SignedOut }; items],
            released: vec![session; items],
            query_kills: vec![kill; items],
            pick_ups: vec![session; items],
            show_sessions: true,
            queries: Some(vec![query; items]),
            show_queries: true,
            show_session_ids: vec![session; items],
        }
    }

    #[test]
    fn the_largest_request_encodes_within_the_bound() {
        for meta in [etcd_meta_config(MetaConfig::default()), MetaConfig::default()] {
            let request = largest_request(&meta);
            let entry = LogEntry::Request {
                now_unix_ms: u64::MAX,
                node: NodeId(u16::MAX),
                request: Box::new(request),
            };
            let bytes = entry.encode().len();
            assert!(bytes <= entry_bytes_bound(&meta), "{bytes} > {}", entry_bytes_bound(&meta));
        }
    }

    #[test]
    fn the_etcd_configuration_fits_a_mebibyte_and_the_default_does_not() {
        check_limits(&etcd_meta_config(MetaConfig::default()), 1 << 20).unwrap();
        assert!(check_limits(&MetaConfig::default(), 1 << 20).is_err());
    }

    /// An entry as log format 1 wrote it (before a request carried the node's queries).
    const FORMAT_ONE_ENTRY: &str = concat!(
        r#"{"Request":{"now_unix_ms":1765000000123,"node":2,"request":{"id":{"incarnation":3,"#,
        r#""round":41},"changes_seen_seq":17,"reload":null,"created":[{"session":7000001,"#,
        r#""user":"root","client_ip":"10.0.0.9","space":"","space_set_unix_ms":0,"#,
        r#""created_unix_ms":1765000000000,"last_activity_unix_ms":1765000000000,"#,
        r#""running_queries":0}],"updated":[],"idle":[],"removals":[{"session":7000002,"#,
        r#""reason":"SignedOut"}],"released":[],"query_kills":[{"key":{"session":7000001,"#,
        r#""plan":9},"caller_user":"root","caller_is_god":true}],"pick_ups":[],"#,
        r#""show_sessions":false}}}"#
    );

    #[test]
    fn a_format_one_entry_applies_as_a_request_without_queries() {
        // What lets this build upgrade a cluster an older build wrote (`record.rs`).
        let session = SessionId::new(7_000_001).unwrap();
        let mut request = Request::empty(RequestId { incarnation: 3, round: 41 });
        request.changes_seen_seq = 17;
        request.created.push(SessionReport::logged_in(
            session,
            "root",
            "10.0.0.9",
            1_765_000_000_000,
        ));
        let removed = SessionId::new(7_000_002).unwrap();
        request.removals.push(Removal { session: removed, reason: RemoveReason::SignedOut });
        let key = QueryKey { session, plan: PlanId::from_u64(9) };
        request.query_kills.push(QueryKill {
            key,
            caller_user: "root".into(),
            caller_is_god: true,
        });
        let expected = LogEntry::Request {
            now_unix_ms: 1_765_000_000_123,
            node: NodeId(2),
            request: Box::new(request),
        };
        assert_eq!(
            LogEntry::decode("log/node/00002", FORMAT_ONE_ENTRY.as_bytes()).unwrap(),
            expected
        );
        // Format 2 writes the same fields, then the two it added.
        let written = String::from_utf8(expected.encode()).unwrap();
        let added = r#","queries":null,"show_queries":false}}}"#;
        assert_eq!(written, format!("{}{added}", FORMAT_ONE_ENTRY.trim_end_matches("}}}")));
    }
}
