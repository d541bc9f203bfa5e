//! The one error type of the etcd host.

use graphsession_core::cluster::{ConfigError, PersistError};
use graphsession_id_gen::SealKeyError;

/// What can go wrong hosting the meta store on etcd.
#[derive(Debug, thiserror::Error)]
pub enum MetaEtcdError {
    /// An etcd call failed (unreachable, timed out, refused).
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// An etcd call took longer than `call_timeout_ms`.
    #[error("an etcd call took longer than {timeout_ms} ms")]
    Timeout {
        /// The limit.
        timeout_ms: u64,
    },
    /// `--meta` is not an `etcd://host:port[,...]` address.
    #[error("bad etcd address {url:?}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A setting is unusable.
    #[error("bad setting {field}: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The meta store's configuration is refused.
    #[error("meta configuration: {0}")]
    MetaConfig(#[from] ConfigError),
    /// The cluster in etcd runs formats this build does not read (a newer build's): every
    /// replica must read the log.
    #[error(
        "the cluster at {prefix} runs formats this build does not read ({detail}): start the \
         build the cluster runs, or this one on another prefix"
    )]
    ConfigMismatch {
        /// The key prefix.
        prefix: String,
        /// What differs.
        detail: String,
    },
    /// This process would replace the cluster's record (newer formats, or another meta
    /// configuration), which needs every process of the cluster stopped, and processes still
    /// hold slots.
    #[error(
        "the cluster at {prefix} runs other settings ({detail}) and {slots_held} slots are held: \
         start this process with the cluster's settings, or stop every graphd of the cluster (a \
         killed one's slots are freed when its lease expires) and start them all with the new \
         ones; the first to start changes the cluster"
    )]
    ClusterRunning {
        /// The key prefix.
        prefix: String,
        /// The fields that differ.
        detail: String,
        /// Slots held by live processes.
        slots_held: i64,
    },
    /// The cluster's state does not fit this process's meta configuration (a limit lowered
    /// below what the cluster holds): the record is kept.
    #[error(
        "the state of the cluster at {prefix} does not fit this process's settings ({detail}): \
         {source}"
    )]
    StateDoesNotFit {
        /// The key prefix.
        prefix: String,
        /// The fields that differ.
        detail: String,
        /// What does not fit.
        source: PersistError,
    },
    /// The cluster's record in etcd changed while this process started (another process
    /// replaced it): this process may not be able to run with what the cluster runs now.
    #[error(
        "the cluster's record at {prefix} changed while this process started (another process \
         replaced it); start this process again to check it"
    )]
    ConfigChanged {
        /// The key prefix.
        prefix: String,
    },
    /// A value read from etcd does not decode.
    #[error("corrupt value at {key}: {detail}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        detail: String,
    },
    /// The cluster's seal key in etcd is malformed: no process may issue session ids until it is
    /// fixed (every process must seal with the one key; see `seal.rs`).
    #[error(
        "the seal key at {key} is malformed ({source}); stop every graphd of the cluster, then \
         delete the key (the next process writes a new one) or put back the old one"
    )]
    BadSealKey {
        /// The key.
        key: String,
        /// What is wrong with its value.
        source: SealKeyError,
    },
    /// The snapshot read from etcd does not restore.
    #[error("the snapshot does not restore: {0}")]
    Restore(#[from] PersistError),
    /// Every slot up to `slot_max` is held by a live process.
    #[error("no free slot up to {slot_max}")]
    NoFreeSlot {
        /// The limit.
        slot_max: u16,
    },
    /// A slot's plan ids are used up.
    #[error("slot {slot} has used up its plan ids")]
    PlanIdsExhausted {
        /// The slot.
        slot: u16,
    },
    /// A log entry is larger than `entry_bytes_max`.
    #[error("a log entry of {bytes} bytes is above entry_bytes_max {bytes_max}")]
    EntryTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        bytes_max: usize,
    },
    /// The process lease expired: its slots, and with them its right to append, are gone.
    #[error("the process lease {lease} expired")]
    LeaseLost {
        /// The lease id.
        lease: i64,
    },
    /// Another process held the catalog lock for the whole wait.
    #[error(
        "another graphd held the catalog lock for all of {wait_ms} ms; try again (a graphd that \
         died frees it when its lease expires)"
    )]
    CatalogBusy {
        /// How long this process waited.
        wait_ms: u64,
    },
    /// A catalog value is larger than `catalog_bytes_max`; nothing was written.
    #[error("a catalog of {bytes} bytes is above catalog_bytes_max {bytes_max}")]
    CatalogTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        bytes_max: usize,
    },
    /// The catalog write was refused: the catalog changed since this turn read it, or this
    /// process no longer holds the catalog lock (its lease expired); nothing was written.
    #[error(
        "the catalog changed since this graphd read it, or this graphd no longer holds the \
         catalog lock; nothing was written: take a new turn and apply the change again"
    )]
    CatalogFenced,
}
