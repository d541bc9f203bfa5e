//! The fenced register the processes share (meta-etcd's `CatalogRegister`, modelled): one value
//! and its revision, a lock held by one process's lease at a time, writes fenced by the lock and
//! by the revision the writer read, and every committed value kept for the oracles.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::catalog::RegisterRead;

/// Who holds the lock: a process and the lease it took the lock under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The process's index.
    pub process: usize,
    /// Its lease.
    pub lease: u64,
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRefused {
    /// The writer's lease does not hold the lock (it expired, or the lock was never taken).
    NotHolder,
    /// The register moved past the revision the writer read.
    Stale,
}

/// The register and its history.
#[derive(Debug, Clone)]
pub struct Register {
    /// The newest revision (0 while empty).
    pub revision: i64,
    /// The value; `None` while empty.
    pub value: Option<Vec<u8>>,
    /// The lock's holder.
    pub holder: Option<Holder>,
    /// Every value the register held, by revision; revision 0 holds the bootstrap table a process
    /// starts from when the register is empty.
    pub history: BTreeMap<i64, Vec<u8>>,
    /// Every value in `history`, for "was this ever committed".
    pub committed: BTreeSet<Vec<u8>>,
}

impl Register {
    /// A register whose first value is `initial` at `revision` (0 and `None`: empty);
    /// `bootstrap` is the table a process starts from while the register is empty.
    pub fn new(revision: i64, initial: Option<Vec<u8>>, bootstrap: Vec<u8>) -> Register {
        let mut history = BTreeMap::new();
        let mut committed = BTreeSet::new();
        history.insert(0, bootstrap.clone());
        committed.insert(bootstrap);
        if let Some(value) = &initial {
            history.insert(revision, value.clone());
            committed.insert(value.clone());
        }
        Register { revision, value: initial, holder: None, history, committed }
    }

    /// The value as a reader sees it now (the bootstrap table while empty).
    pub fn current(&self) -> &[u8] {
        match &self.value {
            Some(value) => value,
            None => self.history.get(&0).map_or(&[], Vec::as_slice),
        }
    }

    /// The value at `revision` (the newest at or below it), as a reader saw it then.
    pub fn value_at(&self, revision: i64) -> Option<&[u8]> {
        self.history.range(..=revision).next_back().map(|(_, value)| value.as_slice())
    }

    /// A read under the lock.
    pub fn read(&self) -> RegisterRead {
        RegisterRead { revision: self.revision, value: self.value.clone() }
    }

    /// Takes the lock for `holder` if it is free.
    pub fn try_take(&mut self, holder: Holder) -> bool {
        if self.holder.is_some() {
            return false;
        }
        self.holder = Some(holder);
        true
    }

    /// Writes `value` if `holder` holds the lock and the register is still at `read_revision`
    /// (`fenced`: the revision fence is checked; false only in a planted bug); the new revision
    /// is `revision + step` (etcd's revisions are global, so they skip).
    pub fn write(
        &mut self,
        holder: Holder,
        read_revision: i64,
        value: &[u8],
        step: i64,
        fenced: bool,
    ) -> Result<i64, WriteRefused> {
        if self.holder != Some(holder) {
            return Err(WriteRefused::NotHolder);
        }
        if fenced && self.revision != read_revision {
            return Err(WriteRefused::Stale);
        }
        self.revision += step.max(1);
        self.value = Some(value.to_vec());
        self.history.insert(self.revision, value.to_vec());
        self.committed.insert(value.to_vec());
        Ok(self.revision)
    }

    /// Releases the lock if `holder` holds it.
    pub fn release(&mut self, holder: Holder) -> bool {
        if self.holder == Some(holder) {
            self.holder = None;
            return true;
        }
        false
    }

    /// `lease` expired: the lock is freed if that lease held it.
    pub fn expire(&mut self, lease: u64) -> bool {
        if self.holder.is_some_and(|holder| holder.lease == lease) {
            self.holder = None;
            return true;
        }
        false
    }
}
