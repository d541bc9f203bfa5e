//! The cluster's record at `config`: the meta configuration and the two format versions every
//! replica applies the log with. The first process writes it; every later one checks it.
//!
//! A record written by an older build whose formats this build still reads (log entries of
//! [`LOG_FORMAT_VERSION_OLDEST`] or newer, meta snapshots of [`META_FORMAT_VERSION_OLDEST`] or
//! newer) is upgraded to this build's formats, in one transaction that holds only while no slot
//! is held. Every process holds its slots for as long as it runs (they are bound to its lease),
//! so no slot means no process of the older build runs: none can meet an entry or a snapshot of
//! the newer format it cannot read, and an older process started later refuses the newer record.
//! While any slot is held, the start is refused ([`MetaEtcdError::OlderProcessesRunning`]): a
//! whole-cluster upgrade stops every process of the older build first. A record of another meta
//! configuration, or of formats this build does not read (a newer build's), is refused as before
//! ([`MetaEtcdError::ConfigMismatch`]).
//!
//! The record's revision fences each slot claim (`slots.rs`), so a process that checked the record
//! cannot claim a slot after a newer build upgraded it in between: it stops with
//! [`MetaEtcdError::ConfigChanged`].

use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp};
use graphsession_core::cluster::{META_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST, MetaConfig};

use crate::call::bounded;
use crate::error::MetaEtcdError;
use crate::keys::Keys;

/// The format of the log entries and snapshots this build writes (2: a request carries the
/// node's queries).
pub const LOG_FORMAT_VERSION: u32 = 2;

/// The oldest log format this build applies (1: a request without the node's queries, read as
/// carrying none).
pub const LOG_FORMAT_VERSION_OLDEST: u32 = 1;

/// Tries of the check when the record changes between its read and the upgrade's transaction
/// (another upgraded process won the race: the next try finds the record current).
const CHECK_TRIES_MAX: u32 = 3;

/// The record at `config`: what every replica must apply the log with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClusterRecord {
    pub(crate) log_format_version: u32,
    pub(crate) meta_format_version: u32,
    pub(crate) meta: MetaConfig,
}

/// How a stored record stands to this build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The same record.
    Current,
    /// The same meta configuration, in formats this build reads and older than it writes.
    Older,
    /// Another configuration, or formats this build does not read.
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
        if self.meta == ours.meta && log_read && meta_read {
            Standing::Older
        } else {
            Standing::Foreign
        }
    }

    fn encode(&self) -> Vec<u8> {
        // Plain numbers: serializing to memory cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn formats(&self) -> String {
        format!("log format {}, meta format {}", self.log_format_version, self.meta_format_version)
    }
}

/// Writes the cluster's record if it is new, upgrades an older build's, or checks it is the one
/// this process runs with. Returns the record's revision in etcd (its `mod_revision`), which
/// fences the slot claims.
pub(crate) async fn check(
    client: &mut Client,
    keys: &Keys,
    meta: MetaConfig,
    timeout_ms: u64,
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
                let detail = differences(&found, &ours);
                return Err(MetaEtcdError::ConfigMismatch {
                    prefix: keys.prefix().to_owned(),
                    detail,
                });
            }
            Standing::Older => {}
        }
        // Upgraded only if the record is still the one read and no slot is held.
        let upgrade = Txn::new()
            .when([
                Compare::mod_revision(key.clone(), CompareOp::Equal, kv.mod_revision()),
                Compare::create_revision(keys.slots(), CompareOp::Equal, 0).with_prefix(),
            ])
            .and_then([TxnOp::put(key.clone(), ours.encode(), None)]);
        let upgraded = bounded(timeout_ms, client.txn(upgrade)).await?;
        if upgraded.succeeded() {
            return Ok(upgraded.header().map_or(0, |header| header.revision()));
        }
        let count = GetOptions::new().with_prefix().with_count_only();
        let held = bounded(timeout_ms, client.get(keys.slots(), Some(count))).await?.count();
        if held > 0 {
            return Err(MetaEtcdError::OlderProcessesRunning {
                prefix: keys.prefix().to_owned(),
                found: found.formats(),
                ours: ours.formats(),
                slots_held: held,
            });
        }
        // The record changed under the upgrade (another process upgraded it): check again.
    }
    Err(MetaEtcdError::ConfigChanged { prefix: keys.prefix().to_owned() })
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
    let hint = "start it with the cluster's settings, or with these on another prefix";
    format!("{}; {hint}", differing.join("; "))
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
    fn an_older_build_s_record_is_upgraded_and_anything_else_differing_is_refused() {
        let meta = MetaConfig::default();
        let ours = ClusterRecord::ours(meta);
        assert_eq!(ours.standing(&ours), Standing::Current);
        let oldest = record(LOG_FORMAT_VERSION_OLDEST, META_FORMAT_VERSION_OLDEST, meta);
        assert_eq!(oldest.standing(&ours), Standing::Older);
        let older_log = record(LOG_FORMAT_VERSION - 1, META_FORMAT_VERSION, meta);
        let older_meta = record(LOG_FORMAT_VERSION, META_FORMAT_VERSION - 1, meta);
        assert_eq!((older_log.standing(&ours), older_meta.standing(&ours)), {
            (Standing::Older, Standing::Older)
        });
        // A newer build's record, one this build cannot read, or another configuration.
        let other = MetaConfig { idle_timeout_ms: meta.idle_timeout_ms + 1, ..meta };
        let refused = [
            record(LOG_FORMAT_VERSION + 1, META_FORMAT_VERSION, meta),
            record(LOG_FORMAT_VERSION, META_FORMAT_VERSION + 1, meta),
            record(LOG_FORMAT_VERSION_OLDEST - 1, META_FORMAT_VERSION, meta),
            record(LOG_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST - 1, meta),
            record(LOG_FORMAT_VERSION_OLDEST, META_FORMAT_VERSION_OLDEST, other),
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
             idle_timeout_ms: the cluster 1000, this process {}; start it with",
            LOG_FORMAT_VERSION + 1,
            meta.idle_timeout_ms
        );
        assert!(text.starts_with(&expected), "{text}");
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
