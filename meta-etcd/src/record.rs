//! The cluster's record at `config`: the meta configuration and the two format versions every
//! replica applies the log with. The first process writes it; every later one checks it.
//!
//! A whole-cluster restart may replace it: a record in formats this build reads (log entries of
//! [`LOG_FORMAT_VERSION_OLDEST`] or newer, meta snapshots of [`META_FORMAT_VERSION_OLDEST`] or
//! newer, none newer than it writes) is replaced by the first process that starts with other
//! formats (an upgrade) or another meta configuration, but only while no slot is held. Every
//! process holds its slots for as long as it runs (they are bound to its lease), so then no
//! process runs: none meets an entry or a snapshot it cannot read, and none applies the log with
//! another configuration than the rest. While any slot is held the start is refused
//! ([`MetaEtcdError::ClusterRunning`]). A record of formats this build does not read (a newer
//! build's) is refused ([`MetaEtcdError::ConfigMismatch`]).
//!
//! A new meta configuration applies from the revision of the change on, never to the log before
//! it: the process applies the log up to the newest entry with the old configuration, checks
//! that the state fits the new one ([`MetaEtcdError::StateDoesNotFit`] otherwise, the record
//! kept), and writes that state as the newest snapshot in the same transaction as the new
//! record. Every process restores from the newest snapshot, so none replays an entry from
//! before the change with the new configuration (a lowered `request_items_max` would refuse a
//! request the cluster had accepted).
//!
//! The record's revision fences each slot claim (`slots.rs`), so a process that checked the
//! record cannot claim a slot after another replaced it in between: it stops with
//! [`MetaEtcdError::ConfigChanged`].

use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp};
use graphsession_core::cluster::{
    META_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST, MetaConfig, MetaStore,
};

use crate::call::{Counters, bounded};
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::replica;
use crate::snapshot::{self, Fence};

/// The format of the log entries, snapshots and keys this build writes (2: a request carries
/// the node's queries; 3: every process follows the catalog register, `catalog.rs`, so a
/// process of an older build, which would change users and roles on its own copy, is refused
/// beside it, and the cluster moves to the register by a whole-cluster restart).
pub const LOG_FORMAT_VERSION: u32 = 3;

/// The oldest log format this build applies (1: a request without the node's queries, read as
/// carrying none).
pub const LOG_FORMAT_VERSION_OLDEST: u32 = 1;

/// Tries of the check when the record changes between its read and the replacing transaction
/// (another process won the race: the next try finds the record current).
const CHECK_TRIES_MAX: u32 = 3;

/// The record at `config`: what every replica must apply the log with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClusterRecord {
    pub(crate) log_format_version: u32,
    pub(crate) meta_format_version: u32,
    pub(crate) meta: MetaConfig,
}

/// How a stored record stands to this process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The same record.
    Current,
    /// Formats this build reads, none newer than it writes (the meta configuration may
    /// differ): a whole-cluster restart may replace it.
    Replaceable,
    /// Formats this build does not read (a newer build's, or unknown).
    Foreign,
}

impl ClusterRecord {
    /// This build's record for `meta`.
    pub(crate) fn ours(meta: MetaConfig) -> ClusterRecord {
        ClusterRecord {
            log_format_version: LOG_FORMAT_VERSION,
            meta_format_version: META_FORMAT_VERSION,
            meta,
        }
    }

    /// How `self`, found in etcd, stands to `ours`.
    pub(crate) fn standing(&self, ours: &ClusterRecord) -> Standing {
        if self == ours {
            return Standing::Current;
        }
        let log_read = (LOG_FORMAT_VERSION_OLDEST..=ours.log_format_version)
            .contains(&self.log_format_version);
        let meta_read = (META_FORMAT_VERSION_OLDEST..=ours.meta_format_version)
            .contains(&self.meta_format_version);
        if log_read && meta_read { Standing::Replaceable } else { Standing::Foreign }
    }

    fn encode(&self) -> Vec<u8> {
        // Plain numbers: serializing to memory cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Writes the cluster's record if it is new, replaces it while no process runs, or checks it
/// is the one this process runs with. Returns the record's revision in etcd (its
/// `mod_revision`), which fences the slot claims.
pub(crate) async fn check(
    client: &mut Client,
    keys: &Keys,
    meta: MetaConfig,
    (chunk_bytes_max, timeout_ms): (usize, u64),
) -> Result<i64, MetaEtcdError> {
    let ours = ClusterRecord::ours(meta);
    let key = keys.config();
    for _ in 0..CHECK_TRIES_MAX {
        let create = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), ours.encode(), None)]);
        let created = bounded(timeout_ms, client.txn(create)).await?;
        if created.succeeded() {
            return Ok(created.header().map_or(0, |header| header.revision()));
        }
        let stored = bounded(timeout_ms, client.get(key.clone(), None)).await?;
        // Deleted since the failed create: the next try writes it.
        let Some(kv) = stored.kvs().first() else { continue };
        let found: ClusterRecord = serde_json::from_slice(kv.value()).map_err(|error| {
            MetaEtcdError::Corrupt { key: key.clone(), detail: error.to_string() }
        })?;
        match found.standing(&ours) {
            Standing::Current => return Ok(kv.mod_revision()),
            Standing::Foreign => {
                return Err(MetaEtcdError::ConfigMismatch {
                    prefix: keys.prefix().to_owned(),
                    detail: differences(&found, &ours),
                });
            }
            Standing::Replaceable => {}
        }
        let count = GetOptions::new().with_prefix().with_count_only();
        let held = bounded(timeout_ms, client.get(keys.slots(), Some(count))).await?.count();
        if held > 0 {
            return Err(MetaEtcdError::ClusterRunning {
                prefix: keys.prefix().to_owned(),
                detail: differences(&found, &ours),
                slots_held: held,
            });
        }
        let record_revision = kv.mod_revision();
        let replaced = if found.meta == ours.meta {
            // Formats alone: the log means the same under either, nothing to cut at the change.
            let replace = Txn::new()
                .when(Fence::Stopped { keys, record_revision, log_revision: None }.compares())
                .and_then([TxnOp::put(key.clone(), ours.encode(), None)]);
            let response = bounded(timeout_ms, client.txn(replace)).await?;
            response.succeeded().then(|| response.header().map_or(0, |header| header.revision()))
        } else {
            rebase(client, keys, (&found, &ours, record_revision), (chunk_bytes_max, timeout_ms))
                .await?
        };
        if let Some(revision) = replaced {
            return Ok(revision);
        }
        // A process started or the record changed since it was read: check again.
    }
    Err(MetaEtcdError::ConfigChanged { prefix: keys.prefix().to_owned() })
}

/// Replaces the record `found` (at `record_revision`) by `ours`, whose meta configuration
/// differs, with the cluster's state under `found` written as the newest snapshot in the same
/// transaction. `None` when the fence failed (a process started, or the record changed).
async fn rebase(
    client: &mut Client,
    keys: &Keys,
    (found, ours, record_revision): (&ClusterRecord, &ClusterRecord, i64),
    (chunk_bytes_max, timeout_ms): (usize, u64),
) -> Result<Option<i64>, MetaEtcdError> {
    let mut replica = replica::restore(client, keys, found.meta, timeout_ms).await?;
    let revision = replica::catch_up(client, keys, &mut replica, timeout_ms).await?;
    let snapshot = replica.store.snapshot();
    if let Err(source) = MetaStore::restore(ours.meta, snapshot.clone()) {
        return Err(MetaEtcdError::StateDoesNotFit {
            prefix: keys.prefix().to_owned(),
            detail: differences(found, ours),
            source,
        });
    }
    let record = TxnOp::put(keys.config(), ours.encode(), None);
    let fence = Fence::Stopped { keys, record_revision, log_revision: Some(revision) };
    let fenced = (fence, Some(record));
    let limits = (chunk_bytes_max, timeout_ms, &Counters::default());
    let written = snapshot::write(client, keys, fenced, (&snapshot, revision), limits).await?;
    Ok(written.map(|written| written.manifest_revision))
}

/// The fields where `found` (in etcd) and `ours` differ, by name, for the refusal's message:
/// `idle_timeout_ms: the cluster 28800000, this process 600000; ...`.
fn differences(found: &ClusterRecord, ours: &ClusterRecord) -> String {
    let fields = |record: &ClusterRecord| {
        let mut fields = vec![
            ("log_format_version".to_owned(), record.log_format_version.to_string()),
            ("meta_format_version".to_owned(), record.meta_format_version.to_string()),
        ];
        // A struct of plain numbers: it serializes to an object.
        if let Ok(serde_json::Value::Object(meta)) = serde_json::to_value(record.meta) {
            fields.extend(meta.into_iter().map(|(name, value)| (name, value.to_string())));
        }
        fields
    };
    let (theirs, mine) = (fields(found), fields(ours));
    let differing: Vec<String> = theirs
        .iter()
        .zip(&mine)
        .filter(|(their, my)| their != my)
        .map(|((name, their), (_, my))| format!("{name}: the cluster {their}, this process {my}"))
        .collect();
    if differing.is_empty() {
        return format!("stored {found:?}, this process {ours:?}");
    }
    differing.join("; ")
}

/// Whether the record at `config` still has revision `revision` (a failed slot claim asks).
pub(crate) async fn unchanged(
    client: &mut Client,
    keys: &Keys,
    revision: i64,
    timeout_ms: u64,
) -> Result<bool, MetaEtcdError> {
    let stored = bounded(timeout_ms, client.get(keys.config(), None)).await?;
    Ok(stored.kvs().first().is_some_and(|kv| kv.mod_revision() == revision))
}

#[cfg(test)]
mod tests {
    //! Which stored records are current, upgraded or refused.

    use graphsession_core::cluster::{META_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST, MetaConfig};

    use super::{ClusterRecord, LOG_FORMAT_VERSION, LOG_FORMAT_VERSION_OLDEST, Standing};

    fn record(log: u32, meta_format: u32, meta: MetaConfig) -> ClusterRecord {
        ClusterRecord { log_format_version: log, meta_format_version: meta_format, meta }
    }

    #[test]
    fn a_record_in_formats_this_build_reads_is_replaceable_and_a_newer_one_is_not() {
        let meta = MetaConfig::default();
        let ours = ClusterRecord::ours(meta);
        assert_eq!(ours.standing(&ours), Standing::Current);
        let oldest = record(LOG_FORMAT_VERSION_OLDEST, META_FORMAT_VERSION_OLDEST, meta);
        assert_eq!(oldest.standing(&ours), Standing::Replaceable);
        let older_log = record(LOG_FORMAT_VERSION - 1, META_FORMAT_VERSION, meta);
        let older_meta = record(LOG_FORMAT_VERSION, META_FORMAT_VERSION - 1, meta);
        assert_eq!((older_log.standing(&ours), older_meta.standing(&ours)), {
            (Standing::Replaceable, Standing::Replaceable)
        });
        // A newer build's record, one this build cannot read, or another configuration.
        // Another meta configuration: a whole-cluster restart may change it.
        let other = MetaConfig { idle_timeout_ms: meta.idle_timeout_ms + 1, ..meta };
        let configured = record(LOG_FORMAT_VERSION_OLDEST, META_FORMAT_VERSION_OLDEST, other);
        assert_eq!(configured.standing(&ours), Standing::Replaceable);
        // A newer build's record, or one in formats this build cannot read.
        let refused = [
            record(LOG_FORMAT_VERSION + 1, META_FORMAT_VERSION, meta),
            record(LOG_FORMAT_VERSION, META_FORMAT_VERSION + 1, meta),
            record(LOG_FORMAT_VERSION_OLDEST - 1, META_FORMAT_VERSION, meta),
            record(LOG_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST - 1, other),
        ];
        for found in refused {
            assert_eq!(found.standing(&ours), Standing::Foreign, "{found:?}");
        }
    }

    #[test]
    fn a_refusal_names_each_field_that_differs() {
        let meta = MetaConfig::default();
        let found = ClusterRecord {
            log_format_version: LOG_FORMAT_VERSION + 1,
            ..ClusterRecord::ours(MetaConfig { idle_timeout_ms: 1_000, ..meta })
        };
        let text = super::differences(&found, &ClusterRecord::ours(meta));
        let expected = format!(
            "log_format_version: the cluster {}, this process {LOG_FORMAT_VERSION}; \
             idle_timeout_ms: the cluster 1000, this process {}",
            LOG_FORMAT_VERSION + 1,
            meta.idle_timeout_ms
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn the_record_s_json_is_the_one_earlier_builds_wrote() {
        // Field names are the stored format: a rename would make every cluster foreign.
        let text = String::from_utf8(ClusterRecord::ours(MetaConfig::default()).encode()).unwrap();
        let prefix = format!(
            "{{\"log_format_version\":{LOG_FORMAT_VERSION},\"meta_format_version\":\
             {META_FORMAT_VERSION},\"meta\":{{"
        );
        assert!(text.starts_with(&prefix), "{text}");
    }
}
