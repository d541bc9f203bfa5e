//! The two configurations of cluster sync: the meta store's ([`MetaConfig`]) and a graph node's
//! ([`NodeConfig`]). Every limit is named with its unit last and has a production default.

use crate::cluster::error::ConfigError;

/// The meta store's configuration. Every node and the meta store must agree on
/// `idle_timeout_ms`; the node's batch limits must not exceed `request_items_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetaConfig {
    /// A session with no activity on any node for this long, and no running query on any live
    /// node, may expire (NebulaGraph's `session_idle_timeout_secs`, 8 h).
    pub idle_timeout_ms: u64,
    /// A node that sent no request for this long is presumed dead: its idle vote is no longer
    /// needed and its running queries no longer keep a session alive. Default 10 minutes (ten
    /// default sync intervals).
    pub holder_silence_ms: u64,
    /// How long a removed session's tombstone is kept. A node partitioned from meta for longer
    /// may miss the "gone" (it is then told to resync, see docs/cluster-protocol.md). Default 24 h.
    pub tombstone_retention_ms: u64,
    /// How long a kill mark is kept when its session stays alive. Default 1 h.
    pub kill_mark_retention_ms: u64,
    /// Live sessions in the cluster; a create beyond it is refused ("gone" with
    /// [`GoneReason::Refused`](crate::cluster::GoneReason::Refused)).
    pub sessions_max: u32,
    /// Tombstones kept; beyond it the oldest is dropped early (and counted as a GC).
    pub tombstones_max: u32,
    /// Kill marks kept; a KILL QUERY beyond it is refused.
    pub kill_marks_max: u32,
    /// Graph nodes the store tracks; a request from one more is refused.
    pub nodes_max: u32,
    /// The most entries one request may carry in each of its lists.
    pub request_items_max: u32,
    /// The longest user name, client ip or space name a request may carry, in bytes.
    pub text_bytes_max: u32,
    /// The most sessions, gone notices and kills one answer carries from the change log.
    pub answer_items_max: u32,
    /// The most change-log entries one answer scans (entries for other nodes included).
    pub changes_scanned_per_answer_max: u32,
    /// The most rows one SHOW SESSIONS answer or one reload page carries.
    pub page_rows_max: u32,
    /// The most sessions one [`MetaStore::handle_timeout`](crate::cluster::MetaStore) checks for
    /// orphan expiry (sessions whose every holder is silent).
    pub orphan_checks_per_timeout_max: u32,
}

impl Default for MetaConfig {
    fn default() -> MetaConfig {
        MetaConfig {
            idle_timeout_ms: 28_800_000,
            holder_silence_ms: 600_000,
            tombstone_retention_ms: 86_400_000,
            kill_mark_retention_ms: 3_600_000,
            sessions_max: 1_000_000,
            tombstones_max: 1_000_000,
            kill_marks_max: 100_000,
            nodes_max: 1_024,
            request_items_max: 1_024,
            text_bytes_max: 1_024,
            answer_items_max: 1_024,
            changes_scanned_per_answer_max: 8_192,
            page_rows_max: 1_024,
            orphan_checks_per_timeout_max: 1_024,
        }
    }
}

impl MetaConfig {
    /// Checks that every limit is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("holder_silence_ms", self.holder_silence_ms),
            // A zero retention would drop a tombstone at once and let a late report resurrect.
            ("tombstone_retention_ms", self.tombstone_retention_ms),
            ("kill_mark_retention_ms", self.kill_mark_retention_ms),
            ("tombstones_max", u64::from(self.tombstones_max)),
            ("kill_marks_max", u64::from(self.kill_marks_max)),
            ("sessions_max", u64::from(self.sessions_max)),
            ("nodes_max", u64::from(self.nodes_max)),
            ("request_items_max", u64::from(self.request_items_max)),
            ("text_bytes_max", u64::from(self.text_bytes_max)),
            ("answer_items_max", u64::from(self.answer_items_max)),
            ("changes_scanned_per_answer_max", u64::from(self.changes_scanned_per_answer_max)),
            ("page_rows_max", u64::from(self.page_rows_max)),
        ];
        check_positive(&positive)
    }
}

/// A graph node's sync configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeConfig {
    /// The period of the sync round (NebulaGraph's `session_reclaim_interval_secs`, 60 s).
    pub sync_interval_ms: u64,
    /// Local idleness after which the node votes for expiry; must equal the meta store's.
    pub idle_timeout_ms: u64,
    /// A request unanswered for this long is abandoned and its content sent again (with a new
    /// request id). Keep it above twice the network delay.
    pub request_timeout_ms: u64,
    /// The first wait before resending after a timeout; doubles per consecutive timeout.
    pub retry_backoff_ms: u64,
    /// The longest wait before resending.
    pub retry_backoff_max_ms: u64,
    /// Sessions reported per request (created and changed together); the rest wait for the
    /// next round, which follows at once. At most the meta store's `request_items_max`.
    pub sync_batch_sessions_max: u32,
    /// Removals (sign-out, KILL SESSION) waiting for meta's acknowledgement.
    pub pending_removals_max: u32,
    /// KILL QUERY requests for remote queries waiting for meta's acknowledgement.
    pub pending_query_kills_max: u32,
    /// Pick-ups waiting for meta's answer.
    pub pending_pick_ups_max: u32,
    /// Sessions created here that meta has not acknowledged yet.
    pub unannounced_max: u32,
    /// Events kept for [`NodeSync::poll_event`](crate::cluster::NodeSync::poll_event); older
    /// ones are dropped (and counted) when the host does not drain them.
    pub events_max: u32,
    /// Queries of this node reported to meta for SHOW QUERIES; with more running, the longest
    /// running ones. At most the meta store's `request_items_max`.
    #[serde(default = "reported_queries_max_default")]
    pub reported_queries_max: u32,
    /// A reported query's statement is cut to this many bytes (at a character boundary). At
    /// most the meta store's `text_bytes_max`.
    #[serde(default = "reported_statement_bytes_max_default")]
    pub reported_statement_bytes_max: u32,
}

fn reported_queries_max_default() -> u32 {
    NodeConfig::default().reported_queries_max
}

fn reported_statement_bytes_max_default() -> u32 {
    NodeConfig::default().reported_statement_bytes_max
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig {
            sync_interval_ms: 60_000,
            idle_timeout_ms: 28_800_000,
            request_timeout_ms: 10_000,
            retry_backoff_ms: 1_000,
            retry_backoff_max_ms: 30_000,
            sync_batch_sessions_max: 512,
            pending_removals_max: 1_024,
            pending_query_kills_max: 1_024,
            pending_pick_ups_max: 1_024,
            unannounced_max: 1_024,
            events_max: 4_096,
            reported_queries_max: 64,
            reported_statement_bytes_max: 256,
        }
    }
}

impl NodeConfig {
    /// Checks that every limit is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("sync_interval_ms", self.sync_interval_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("sync_batch_sessions_max", u64::from(self.sync_batch_sessions_max)),
            ("pending_removals_max", u64::from(self.pending_removals_max)),
            ("pending_query_kills_max", u64::from(self.pending_query_kills_max)),
            ("pending_pick_ups_max", u64::from(self.pending_pick_ups_max)),
            ("unannounced_max", u64::from(self.unannounced_max)),
            ("events_max", u64::from(self.events_max)),
            ("reported_statement_bytes_max", u64::from(self.reported_statement_bytes_max)),
        ];
        check_positive(&positive)?;
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            return Err(ConfigError {
                field: "retry_backoff_max_ms",
                reason: "below retry_backoff_ms",
            });
        }
        Ok(())
    }
}

fn check_positive(fields: &[(&'static str, u64)]) -> Result<(), ConfigError> {
    match fields.iter().find(|(_, value)| *value == 0) {
        Some((field, _)) => Err(ConfigError { field, reason: "must be positive" }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::NodeConfig;

    #[test]
    fn a_node_config_written_before_the_query_reports_reads_with_their_defaults() {
        let mut json = serde_json::to_value(NodeConfig::default()).unwrap();
        let fields = json.as_object_mut().unwrap();
        assert!(fields.remove("reported_queries_max").is_some());
        assert!(fields.remove("reported_statement_bytes_max").is_some());
        let read: NodeConfig = serde_json::from_value(json).unwrap();
        assert_eq!(read, NodeConfig::default());
        assert_eq!((read.reported_queries_max, read.reported_statement_bytes_max), (64, 256));
    }
}
