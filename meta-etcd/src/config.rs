//! The host's settings ([`EtcdConfig`]) and the `etcd://host:port[,host:port...]` address form
//! graphd's `--meta` flag takes.

use crate::error::MetaEtcdError;

/// How a process reaches etcd and paces its duties there. Every limit is named with its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// The members' client URLs (`http://127.0.0.1:2379`).
    pub endpoints: Vec<String>,
    /// Every key lives under this prefix (several clusters may share one etcd).
    pub prefix: String,
    /// The process lease's time to live: its slots, its leadership and its replica position
    /// vanish this long after its last keep-alive reached etcd.
    pub lease_ttl_ms: u64,
    /// The shortest time between two snapshots of the state the leader writes (each followed
    /// by a compaction).
    pub snapshot_interval_ms: u64,
    /// The longest time between two snapshots while the log moves.
    pub snapshot_interval_max_ms: u64,
    /// Between the two intervals, a snapshot is written once the log applied since the last
    /// one reaches this percentage of that snapshot's bytes, so snapshots cost at most
    /// `100 / snapshot_log_percent` bytes per byte of log; 0 writes one at every
    /// `snapshot_interval_ms` while the log moves.
    pub snapshot_log_percent: u32,
    /// The largest snapshot chunk, in bytes (one chunk per transaction; etcd refuses requests
    /// above 1.5 MiB by default).
    pub chunk_bytes_max: usize,
    /// The largest log entry (one node's request), in bytes.
    pub entry_bytes_max: usize,
    /// Requests being appended at once; a request beyond it is dropped and resent by its node
    /// after its request timeout.
    pub appends_in_flight_max: usize,
    /// Answers waiting for the host; beyond it the replica waits (the watch stream backs up).
    pub deliveries_max: usize,
    /// The highest id-generator slot a process may claim (the session-id layout has 10 bits).
    pub slot_max: u16,
    /// The largest catalog value (`catalog.rs`: users, roles, spaces, password hashes), in
    /// bytes (one value per transaction).
    pub catalog_bytes_max: usize,
    /// How long one etcd call may take before it fails (and is retried by its caller).
    pub call_timeout_ms: u64,
    /// Deliver every log entry the replica applies as a [`Delivery::Applied`](crate::Delivery)
    /// (a test's record of its run; off by default).
    pub deliver_applied: bool,
}

impl Default for EtcdConfig {
    fn default() -> EtcdConfig {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: "/graphsession/".to_owned(),
            lease_ttl_ms: 10_000,
            snapshot_interval_ms: 10_000,
            snapshot_interval_max_ms: 600_000,
            snapshot_log_percent: 100,
            chunk_bytes_max: 1 << 20,
            entry_bytes_max: 1 << 20,
            appends_in_flight_max: 256,
            deliveries_max: 4_096,
            slot_max: 1_023,
            catalog_bytes_max: 1 << 20,
            call_timeout_ms: 5_000,
            deliver_applied: false,
        }
    }
}

/// The most etcd's default `--max-request-bytes` lets one request carry (1.5 MiB), less room
/// for the key and the transaction's framing.
pub const ETCD_REQUEST_BYTES_MAX: usize = 1_536 * 1_024 - 4_096;

impl EtcdConfig {
    /// The endpoints of an `etcd://host:port[,host:port...]` address, as client URLs.
    pub fn parse_url(url: &str) -> Result<Vec<String>, MetaEtcdError> {
        let bad = |reason: &'static str| MetaEtcdError::BadUrl { url: url.to_owned(), reason };
        let Some(rest) = url.strip_prefix("etcd://") else {
            return Err(bad("must start with etcd://"));
        };
        let mut endpoints = Vec::new();
        for member in rest.split(',') {
            let Some((host, port)) = member.rsplit_once(':') else {
                return Err(bad("every member is host:port"));
            };
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad("every member is host:port"));
            }
            endpoints.push(format!("http://{member}"));
        }
        Ok(endpoints)
    }

    /// Checks that every limit is usable and fits etcd's request limit.
    pub fn validate(&self) -> Result<(), MetaEtcdError> {
        let bad =
            |field: &'static str, reason: &'static str| MetaEtcdError::Config { field, reason };
        if self.endpoints.is_empty() {
            return Err(bad("endpoints", "at least one"));
        }
        if !self.prefix.ends_with('/') {
            return Err(bad("prefix", "must end with /"));
        }
        if self.lease_ttl_ms < 2_000 {
            return Err(bad("lease_ttl_ms", "at least 2000 (etcd grants whole seconds)"));
        }
        if self.chunk_bytes_max == 0 || self.chunk_bytes_max > ETCD_REQUEST_BYTES_MAX {
            return Err(bad("chunk_bytes_max", "between 1 and etcd's request limit"));
        }
        if self.entry_bytes_max == 0 || self.entry_bytes_max > ETCD_REQUEST_BYTES_MAX {
            return Err(bad("entry_bytes_max", "between 1 and etcd's request limit"));
        }
        if self.catalog_bytes_max == 0 || self.catalog_bytes_max > ETCD_REQUEST_BYTES_MAX {
            return Err(bad("catalog_bytes_max", "between 1 and etcd's request limit"));
        }
        if self.snapshot_interval_max_ms < self.snapshot_interval_ms {
            return Err(bad("snapshot_interval_max_ms", "at least snapshot_interval_ms"));
        }
        let positive = [
            ("snapshot_interval_ms", self.snapshot_interval_ms),
            ("appends_in_flight_max", self.appends_in_flight_max as u64),
            ("deliveries_max", self.deliveries_max as u64),
            ("slot_max", u64::from(self.slot_max)),
            ("call_timeout_ms", self.call_timeout_ms),
        ];
        match positive.iter().find(|(_, value)| *value == 0) {
            Some((field, _)) => Err(bad(field, "must be positive")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The address form.

    use super::EtcdConfig;

    #[test]
    fn an_etcd_url_lists_its_members() {
        let endpoints = EtcdConfig::parse_url("etcd://127.0.0.1:2379,127.0.0.1:2380").unwrap();
        assert_eq!(endpoints, ["http://127.0.0.1:2379", "http://127.0.0.1:2380"]);
        for bad in ["http://127.0.0.1:2379", "etcd://", "etcd://host", "etcd://h:x", "etcd://:1"] {
            assert!(EtcdConfig::parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_are_valid() {
        EtcdConfig::default().validate().unwrap();
    }

    #[test]
    fn the_longest_snapshot_interval_is_at_least_the_shortest() {
        let equal = EtcdConfig { snapshot_interval_max_ms: 10_000, ..EtcdConfig::default() };
        equal.validate().unwrap();
        let shorter = EtcdConfig { snapshot_interval_max_ms: 9_999, ..equal };
        let error = shorter.validate().unwrap_err().to_string();
        assert!(error.contains("snapshot_interval_max_ms"), "{error}");
    }
}
