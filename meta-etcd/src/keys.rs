//! The key layout under the cluster's prefix `P`:
//!
//! | key | value | written by |
//! |---|---|---|
//! | `P config` | the meta configuration and formats every replica applies with | the first process; replaced by the first of a restarted cluster with newer formats or settings (`record.rs`) |
//! | `P seal-key` | the key every process seals session ids with (32 hex digits) | the first process, once |
//! | `P slots/NNNNN` | the slot's owner, bound to its process lease | the owner, at claim |
//! | `P floors/NNNNN` | the slot's id bounds and incarnation (durable) | the owner, at claim and release |
//! | `P log/node/NNNNN` | the node's newest request (the log is this key's history) | the owner, fenced by its slot key |
//! | `P log/tick` | a timer tick of the meta store | the leader, fenced by its leader key |
//! | `P leader` | the leader's process, bound to its lease | the leader, at election |
//! | `P snapshot/manifest` | the newest snapshot's revision, size and digest | the leader, fenced |
//! | `P snapshot/RRRRRRRRRRRRRRRRRRRR/CCCCCC` | the snapshot's chunks | the leader, fenced |
//! | `P replicas/LEASE` | a replica's applied revision, bound to its lease | each process |
//! | `P addrs/NNNNN` | the slot's node's `host:port` (SHOW SESSIONS' GraphAddr), durable | the owner, after claim |
//! | `P catalog/value` | the catalog (users, roles, spaces, password hashes; opaque bytes graphd encodes), durable | the first process (seed), then the holder of the catalog lock, fenced (`catalog.rs`) |
//! | `P catalog/lock` | the catalog lock's holder (its lease id, decimal), bound to its lease | a process taking its turn |
//!
//! Numbers are zero-padded so that keys sort as their numbers do.

/// The keys of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys under `prefix` (which ends with `/`).
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_owned() }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The configuration record.
    pub fn config(&self) -> String {
        format!("{}config", self.prefix)
    }

    /// The cluster's seal key (`seal.rs`).
    pub fn seal_key(&self) -> String {
        format!("{}seal-key", self.prefix)
    }

    /// The prefix of every slot's owner key.
    pub fn slots(&self) -> String {
        format!("{}slots/", self.prefix)
    }

    /// Slot `slot`'s owner key.
    pub fn slot(&self, slot: u16) -> String {
        format!("{}slots/{slot:05}", self.prefix)
    }

    /// The prefix of every slot's floors.
    pub fn floors(&self) -> String {
        format!("{}floors/", self.prefix)
    }

    /// Slot `slot`'s floors.
    pub fn floor(&self, slot: u16) -> String {
        format!("{}floors/{slot:05}", self.prefix)
    }

    /// The log's prefix: its history is the totally ordered log every replica applies.
    pub fn log(&self) -> String {
        format!("{}log/", self.prefix)
    }

    /// Node `slot`'s request key.
    pub fn log_node(&self, slot: u16) -> String {
        format!("{}log/node/{slot:05}", self.prefix)
    }

    /// The timer's key.
    pub fn log_tick(&self) -> String {
        format!("{}log/tick", self.prefix)
    }

    /// The leader key.
    pub fn leader(&self) -> String {
        format!("{}leader", self.prefix)
    }

    /// The snapshot's manifest.
    pub fn manifest(&self) -> String {
        format!("{}snapshot/manifest", self.prefix)
    }

    /// The prefix of the chunks of the snapshot at `revision`.
    pub fn chunks(&self, revision: i64) -> String {
        format!("{}snapshot/{revision:020}/", self.prefix)
    }

    /// Chunk `index` of the snapshot at `revision`.
    pub fn chunk(&self, revision: i64, index: u32) -> String {
        format!("{}snapshot/{revision:020}/{index:06}", self.prefix)
    }

    /// The first key of the chunks of every snapshot.
    pub fn chunks_start(&self) -> String {
        format!("{}snapshot/0", self.prefix)
    }

    /// The prefix of the replicas' positions.
    pub fn replicas(&self) -> String {
        format!("{}replicas/", self.prefix)
    }

    /// The position of the replica of the process holding `lease`.
    pub fn replica(&self, lease: i64) -> String {
        format!("{}replicas/{lease:020}", self.prefix)
    }

    /// The slot a `log/node/NNNNN` key names.
    pub fn node_of_log_key(&self, key: &[u8]) -> Option<u16> {
        let key = std::str::from_utf8(key).ok()?;
        key.strip_prefix(&self.prefix)?.strip_prefix("log/node/")?.parse().ok()
    }

    /// The prefix of every node's address.
    pub fn addrs(&self) -> String {
        format!("{}addrs/", self.prefix)
    }

    /// Node `slot`'s address key.
    pub fn addr(&self, slot: u16) -> String {
        format!("{}addrs/{slot:05}", self.prefix)
    }

    /// The catalog register's value (`catalog.rs`).
    pub fn catalog(&self) -> String {
        format!("{}catalog/value", self.prefix)
    }

    /// The catalog lock: its holder's lease id, bound to that lease.
    pub fn catalog_lock(&self) -> String {
        format!("{}catalog/lock", self.prefix)
    }

    /// The slot of an address key.
    pub fn slot_of_addr_key(&self, key: &[u8]) -> Option<u16> {
        let key = std::str::from_utf8(key).ok()?;
        key.strip_prefix(&self.prefix)?.strip_prefix("addrs/")?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    //! Keys sort as their numbers and parse back.

    use super::Keys;

    #[test]
    fn keys_sort_by_number_and_parse_back() {
        let keys = Keys::new("/p/");
        assert!(keys.chunk(9, 2) < keys.chunk(10, 0));
        assert!(keys.chunks_start() < keys.chunk(1, 0));
        assert!(keys.chunk(1, 0) < keys.manifest());
        assert_eq!(keys.node_of_log_key(keys.log_node(17).as_bytes()), Some(17));
        assert_eq!(keys.node_of_log_key(keys.log_tick().as_bytes()), None);
        assert_eq!(keys.slot_of_addr_key(keys.addr(5).as_bytes()), Some(5));
        assert!(keys.addr(5).starts_with(&keys.addrs()));
        assert_eq!(keys.slot_of_addr_key(keys.slot(5).as_bytes()), None);
        assert!(
            !keys.catalog_lock().starts_with(&keys.catalog()),
            "a watch of the value sees the lock"
        );
        assert!(
            keys.log_node(3).starts_with(&keys.log()) && keys.log_tick().starts_with(&keys.log())
        );
    }
}
