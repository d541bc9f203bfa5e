//! A shard's sessions: an open-addressing table whose slots hold each session's id and activity
//! word as atomics, so find + touch reads and raises the activity without taking any lock.
//!
//! # Why not a map behind the shard's lock
//!
//! Find + touch is the first step of every request. Behind an `RwLock`, even an uncontended read
//! lock is an atomic read-modify-write on the lock word, and on x86 every such instruction is a
//! full fence: the next request's cache misses cannot start until this one's have finished. At
//! 1M sessions, where nearly every lookup misses the caches, that fence (plus a second miss for
//! a map's control bytes) is what made find + touch cost 140 ns. Here a lookup is plain loads of
//! one slot array (a slot is 16 bytes, four to a cache line) and one compare-and-swap on the
//! session's own activity word, so consecutive requests overlap their misses, and two threads
//! never write a shared line unless they touch the same session.
//!
//! # Slots
//!
//! A slot is `(key, word)`. `key` is a session id, or `EMPTY` (0: ids are positive). `word` packs
//! the session's last activity (Unix ms, [`NOW_UNIX_MS_MAX`] at most), a *tag* that changes each
//! time the slot takes a new session, and a *frozen* bit. A slot's word is unfrozen exactly while
//! it holds a live session; a writer freezes it before it moves, removes or decides on the session
//! (`fetch_or`, which also reads the final activity), and empty slots stay frozen.
//!
//! Writers (insert, remove, expiry, growth) hold the shard's write lock. Lock-free readers
//! ([`SlotTable::touch_unlocked`]) read `key`, then `word`, then `key` again: when both key reads
//! see the id and the word is unfrozen, the word belongs to that session's tenure of the slot (a
//! new tenure's word is stored with release ordering after the old key was cleared). They raise
//! the activity with a compare-and-swap against exactly that word: a writer's freeze, or a new
//! tenant's tag, makes it fail, so a touch is never lost in a move and never lands on another
//! session. (The tag has 19 bits: a touch stalled across 2^19 new tenants of its slot is the one
//! case where it could land on another session, whose idle clock would then restart; it can
//! never make a session expire early.) Anything unexpected (a frozen word, an empty slot, a long
//! probe, a moved key) answers [`FastTouch::Unsure`], and the caller repeats the lookup under the
//! shard's read lock, where no slot is frozen or moving: a lock-free miss is never an answer.
//!
//! # Memory
//!
//! Linear probing, backward-shift deletion (no tombstones), at most three quarters full. The
//! slots live in blocks of doubling size (8, 16, 32, ... slots) that are allocated once and never
//! freed or moved, because a lock-free reader may still be reading any of them; growing adds one
//! block and rehashes every session in place, so the table holds `8 * (2^b - 1)` slots in `b`
//! blocks and none is wasted. A shard's table keeps its peak size. Which session sits in which
//! slot is in [`Entries`], under the shard's lock, parallel to the slots.

use graphsession_base::sync::{Arc, AtomicU64, AtomicUsize, OnceLock, Ordering};
use graphsession_id_gen::SessionId;

use crate::server::config::NOW_UNIX_MS_MAX;
use crate::server::session::SessionEntry;

const EMPTY: u64 = 0;
const TAG_SHIFT: u32 = 44;
const TAG_MASK: u64 = (1 << 19) - 1;
const FROZEN: u64 = 1 << 63;
/// `NOW_UNIX_MS_MAX` is `2^TAG_SHIFT - 1`: times and tags never overlap.
const _: () = assert!(NOW_UNIX_MS_MAX == (1 << TAG_SHIFT) - 1);

/// Slots of block 0, as a power of two; block `j` has `BLOCK0_SLOTS << j`.
const BLOCK0_SLOTS_LOG2: u32 = 3;
const BLOCK0_SLOTS: usize = 1 << BLOCK0_SLOTS_LOG2;
/// Blocks a table may grow to: `8 * (2^26 - 1)` slots, about 400 million sessions per shard.
const BLOCKS_MAX: usize = 26;
/// Slots a lock-free lookup probes before it asks under the lock.
const PROBES_UNLOCKED_MAX: usize = 32;
/// Compare-and-swap attempts of a lock-free touch before it asks under the lock.
const CAS_UNLOCKED_MAX: u32 = 4;

fn pack(time_ms: u64, tag: u64) -> u64 {
    ((tag & TAG_MASK) << TAG_SHIFT) | time_ms.min(NOW_UNIX_MS_MAX)
}

fn time_of(word: u64) -> u64 {
    word & NOW_UNIX_MS_MAX
}

fn tag_of(word: u64) -> u64 {
    (word >> TAG_SHIFT) & TAG_MASK
}

fn is_frozen(word: u64) -> bool {
    word & FROZEN != 0
}

fn key_of(id: SessionId) -> u64 {
    // Session ids are positive, so the key is never EMPTY.
    id.get().unsigned_abs()
}

/// The home slot of a key with `hash` among `capacity` slots: the high bits of a 64x64-bit
/// product, so any capacity works (Lemire's multiply-shift range reduction).
#[expect(clippy::cast_possible_truncation, reason = "the product's high half is below capacity")]
fn home(hash: u64, capacity: usize) -> usize {
    ((u128::from(hash) * capacity as u128) >> 64) as usize
}

fn next(index: usize, capacity: usize) -> usize {
    if index + 1 == capacity { 0 } else { index + 1 }
}

/// Steps from `from` forward to `to`, wrapping at `capacity`.
fn distance(from: usize, to: usize, capacity: usize) -> usize {
    if to >= from { to - from } else { to + capacity - from }
}

/// Total slots of the first `blocks` blocks.
fn capacity_of(blocks: usize) -> usize {
    BLOCK0_SLOTS * ((1 << blocks) - 1)
}

#[derive(Debug)]
struct Slot {
    key: AtomicU64,
    word: AtomicU64,
}

impl Slot {
    fn empty() -> Slot {
        Slot { key: AtomicU64::new(EMPTY), word: AtomicU64::new(FROZEN) }
    }
}

/// What a lock-free touch found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FastTouch {
    /// The session is in the table and its activity is now at least `now`.
    Touched,
    /// Not found, or being moved: repeat the lookup under the shard's read lock.
    Unsure,
}

/// Raises the activity in `word` to `now` if `word` still holds the tenure whose value was
/// `seen`; `None` if it does not (a writer froze or replaced it).
fn raise(word: &AtomicU64, mut seen: u64, now: u64) -> Option<()> {
    loop {
        if is_frozen(seen) {
            return None;
        }
        if time_of(seen) >= now {
            return Some(());
        }
        let raised = pack(now, tag_of(seen));
        match word.compare_exchange(seen, raised, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(()),
            // Another touch raised it, or a writer froze it or gave the slot to a new session.
            Err(actual) if tag_of(actual) == tag_of(seen) => seen = actual,
            Err(_) => return None,
        }
    }
}

/// The slot storage of one shard: read by anyone, changed only under the shard's write lock.
#[derive(Debug)]
pub(crate) struct SlotTable {
    blocks: [OnceLock<Box<[Slot]>>; BLOCKS_MAX],
    /// Slots in use, published (release) after their blocks are allocated.
    capacity: AtomicUsize,
}

impl SlotTable {
    pub(crate) fn new() -> SlotTable {
        SlotTable {
            blocks: std::array::from_fn(|_| OnceLock::new()),
            capacity: AtomicUsize::new(0),
        }
    }

    #[inline]
    fn slot(&self, index: usize) -> Option<&Slot> {
        let shifted = index.checked_add(BLOCK0_SLOTS)?;
        let top = usize::BITS - 1 - shifted.leading_zeros();
        let block = usize::try_from(top - BLOCK0_SLOTS_LOG2).ok()?;
        let offset = shifted - (1 << top);
        self.blocks.get(block)?.get()?.get(offset)
    }

    /// The slots in index order, as far as the blocks are allocated (what [`SlotTable::slot`]
    /// finds for index 0, 1, ... until its first `None`), without its arithmetic per index.
    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.blocks.iter().map_while(OnceLock::get).flat_map(|block| block.iter())
    }

    /// Find + touch without a lock: see the module docs.
    #[inline]
    pub(crate) fn touch_unlocked(&self, id: SessionId, hash: u64, now: u64) -> FastTouch {
        let capacity = self.capacity.load(Ordering::Acquire);
        if capacity == 0 {
            return FastTouch::Unsure;
        }
        let key = key_of(id);
        let mut index = home(hash, capacity);
        for _ in 0..PROBES_UNLOCKED_MAX {
            let Some(slot) = self.slot(index) else { return FastTouch::Unsure };
            let found = slot.key.load(Ordering::Acquire);
            if found == key {
                return touch_slot_unlocked(slot, key, now);
            }
            if found == EMPTY {
                return FastTouch::Unsure;
            }
            index = next(index, capacity);
        }
        FastTouch::Unsure
    }
}

/// Raises a found slot's activity without a lock: [`raise`]'s compare-and-swap with the key
/// re-read before each attempt, written out so that the hot path makes no call.
#[inline]
fn touch_slot_unlocked(slot: &Slot, key: u64, now: u64) -> FastTouch {
    let mut seen = slot.word.load(Ordering::Acquire);
    for _ in 0..CAS_UNLOCKED_MAX {
        // The word read after the key: if the key still names the session, the word is its own.
        if is_frozen(seen) || slot.key.load(Ordering::Acquire) != key {
            return FastTouch::Unsure;
        }
        if time_of(seen) >= now {
            return FastTouch::Touched;
        }
        let raised = pack(now, tag_of(seen));
        match slot.word.compare_exchange(seen, raised, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return FastTouch::Touched,
            // Another touch raised it, or a writer froze it or gave the slot to a new tenure:
            // judged again from what the exchange read.
            Err(actual) => seen = actual,
        }
    }
    FastTouch::Unsure
}

/// A live session's activity word, read or raised under the shard's lock (where it is never
/// frozen and its tag never changes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Activity<'a> {
    word: &'a AtomicU64,
}

impl Activity<'_> {
    /// Last activity, Unix ms.
    pub(crate) fn last_ms(self) -> u64 {
        time_of(self.word.load(Ordering::Acquire))
    }

    /// Raises the last activity to `now` (already clamped by the node clock).
    pub(crate) fn touch(self, now: u64) {
        let seen = self.word.load(Ordering::Acquire);
        let raised = raise(self.word, seen, now);
        debug_assert!(raised.is_some(), "a live slot is never frozen under the shard's lock");
    }
}

/// A session found under the shard's lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'a> {
    pub(crate) index: usize,
    pub(crate) entry: &'a Arc<SessionEntry>,
    pub(crate) activity: Activity<'a>,
}

/// A live session's slot frozen by a writer: its activity is final until it is removed or
/// unfrozen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frozen {
    index: usize,
    word: u64,
}

impl Frozen {
    pub(crate) fn last_ms(self) -> u64 {
        time_of(self.word)
    }
}

/// The table is at its largest ([`BLOCKS_MAX`] blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableFull;

/// A session the table did not take, handed back so that its caller can undo what it
/// reserved for it (its counts) without having kept a second pointer to it.
#[derive(Debug)]
pub(crate) enum NotInserted {
    /// The table is at its largest.
    NoRoom(Arc<SessionEntry>),
    /// A session with the same id is here already (ids are unique by construction; a lease
    /// that overlaps a restored snapshot's ids would break that).
    AlreadyHere(Arc<SessionEntry>),
}

/// Which session sits in which slot, and how many: guarded by the shard's lock.
#[derive(Debug, Default)]
pub(crate) struct Entries {
    by_slot: Vec<Option<Arc<SessionEntry>>>,
    len: usize,
}

impl Entries {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot of `id` (probed under the lock, so exact).
    pub(crate) fn find(&self, table: &SlotTable, id: SessionId, hash: u64) -> Option<usize> {
        let capacity = self.by_slot.len();
        if capacity == 0 {
            return None;
        }
        let key = key_of(id);
        let mut index = home(hash, capacity);
        for _ in 0..capacity {
            let found = table.slot(index)?.key.load(Ordering::Acquire);
            if found == key {
                return Some(index);
            }
            if found == EMPTY {
                return None;
            }
            index = next(index, capacity);
        }
        None
    }

    pub(crate) fn get<'a>(
        &'a self,
        table: &'a SlotTable,
        id: SessionId,
        hash: u64,
    ) -> Option<Found<'a>> {
        let index = self.find(table, id, hash)?;
        self.at(table, index)
    }

    fn at<'a>(&'a self, table: &'a SlotTable, index: usize) -> Option<Found<'a>> {
        let entry = self.by_slot.get(index)?.as_ref()?;
        let word = &table.slot(index)?.word;
        Some(Found { index, entry, activity: Activity { word } })
    }

    /// Every session, in slot order.
    pub(crate) fn iter<'a>(&'a self, table: &'a SlotTable) -> impl Iterator<Item = Found<'a>> {
        (0..self.by_slot.len()).filter_map(move |index| self.at(table, index))
    }

    /// Inserts session `entry` (whose id hashes to `hash`) with last activity `last_ms`; hands
    /// it back, unchanged, if its id is here already or the table is at its largest. The probe
    /// for the empty slot passes every slot the id could be in, so refusing a duplicate costs
    /// no probe of its own. Only under the shard's write lock.
    pub(crate) fn insert(
        &mut self,
        table: &SlotTable,
        hash: u64,
        last_ms: u64,
        entry: Arc<SessionEntry>,
    ) -> Result<(), NotInserted> {
        if (self.len + 1) * 4 > self.by_slot.len() * 3 && self.grow(table).is_err() {
            return Err(NotInserted::NoRoom(entry));
        }
        self.place(table, hash, last_ms, entry).map_err(NotInserted::AlreadyHere)?;
        self.len += 1;
        Ok(())
    }

    /// Puts a session into the first empty slot of its probe sequence (there is one: the table
    /// is at most three quarters full), unless its id sits on the way: then hands it back.
    fn place(
        &mut self,
        table: &SlotTable,
        hash: u64,
        last_ms: u64,
        entry: Arc<SessionEntry>,
    ) -> Result<(), Arc<SessionEntry>> {
        let capacity = self.by_slot.len();
        let key = key_of(entry.id);
        let mut index = home(hash, capacity);
        for _ in 0..capacity {
            let Some(slot) = table.slot(index) else { break };
            let found = slot.key.load(Ordering::Relaxed);
            if found == EMPTY {
                let old = slot.word.load(Ordering::Relaxed);
                // The word first, then the key, both released: a reader that sees the key sees
                // this tenure's word, and one that sees this word no longer sees an old key.
                slot.word.store(pack(last_ms, tag_of(old) + 1), Ordering::Release);
                slot.key.store(key, Ordering::Release);
                self.by_slot[index] = Some(entry);
                return Ok(());
            }
            if found == key {
                return Err(entry);
            }
            index = next(index, capacity);
        }
        debug_assert!(false, "no empty slot in a table at most three quarters full");
        Ok(())
    }

    /// Adds one block and rehashes every session in place. Lock-free readers meanwhile find
    /// frozen or empty slots and ask under the lock, which waits for this.
    fn grow(&mut self, table: &SlotTable) -> Result<(), TableFull> {
        // The blocks in use: below the maximum, or no count in the range has this capacity.
        let in_use = (0..BLOCKS_MAX).find(|&block| capacity_of(block) == self.by_slot.len());
        let Some(blocks) = in_use else {
            return Err(TableFull);
        };
        let mut live = Vec::with_capacity(self.len);
        for index in 0..self.by_slot.len() {
            let Some(entry) = self.by_slot[index].take() else { continue };
            let Some(slot) = table.slot(index) else { continue };
            let word = slot.word.fetch_or(FROZEN, Ordering::AcqRel);
            slot.key.store(EMPTY, Ordering::Release);
            live.push((time_of(word), entry));
        }
        table.blocks[blocks]
            .get_or_init(|| (0..BLOCK0_SLOTS << blocks).map(|_| Slot::empty()).collect());
        let capacity = capacity_of(blocks + 1);
        self.by_slot.resize(capacity, None);
        table.capacity.store(capacity, Ordering::Release);
        for (last_ms, entry) in live {
            let hash = crate::server::hash::mix(key_of(entry.id));
            // Distinct ids, each placed once: nothing is handed back.
            let _placed = self.place(table, hash, last_ms, entry);
        }
        Ok(())
    }

    /// Freezes the live session in slot `index`: its activity is final until
    /// [`remove`](Self::remove) or [`unfreeze`](Self::unfreeze). Only under the write lock.
    pub(crate) fn freeze(&self, table: &SlotTable, index: usize) -> Option<Frozen> {
        self.by_slot.get(index)?.as_ref()?;
        let word = table.slot(index)?.word.fetch_or(FROZEN, Ordering::AcqRel);
        debug_assert!(!is_frozen(word), "a live slot frozen twice");
        Some(Frozen { index, word })
    }

    /// Lets lock-free touches at a frozen session again.
    pub(crate) fn unfreeze(&self, table: &SlotTable, frozen: Frozen) {
        if let Some(slot) = table.slot(frozen.index) {
            slot.word.store(frozen.word, Ordering::Release);
        }
    }

    /// Removes the frozen session, shifting the sessions after it back so no probe sequence has
    /// a hole; returns it. Only under the write lock.
    pub(crate) fn remove(
        &mut self,
        table: &SlotTable,
        frozen: Frozen,
    ) -> Option<Arc<SessionEntry>> {
        let capacity = self.by_slot.len();
        let mut hole = frozen.index;
        let removed = self.by_slot.get_mut(hole)?.take()?;
        table.slot(hole)?.key.store(EMPTY, Ordering::Release);
        self.len -= 1;
        let mut index = next(hole, capacity);
        for _ in 0..capacity {
            let Some(slot) = table.slot(index) else { break };
            let key = slot.key.load(Ordering::Relaxed);
            if key == EMPTY {
                break;
            }
            let home = home(crate::server::hash::mix(key), capacity);
            if distance(home, hole, capacity) < distance(home, index, capacity) {
                self.shift(table, index, hole, key);
                hole = index;
            }
            index = next(index, capacity);
        }
        Some(removed)
    }

    /// Moves the session with `key` from slot `from` to the empty slot `to`.
    fn shift(&mut self, table: &SlotTable, from: usize, to: usize, key: u64) {
        let (Some(source), Some(target)) = (table.slot(from), table.slot(to)) else { return };
        let word = source.word.fetch_or(FROZEN, Ordering::AcqRel);
        let old = target.word.load(Ordering::Relaxed);
        target.word.store(pack(time_of(word), tag_of(old) + 1), Ordering::Release);
        target.key.store(key, Ordering::Release);
        self.by_slot[to] = self.by_slot[from].take();
        source.key.store(EMPTY, Ordering::Release);
    }

    /// Checks the table against its own rules; a description of the first break.
    pub(crate) fn check(&self, table: &SlotTable) -> Result<(), String> {
        let capacity = self.by_slot.len();
        if table.capacity.load(Ordering::Acquire) != capacity {
            let published = table.capacity.load(Ordering::Acquire);
            return Err(format!("{capacity} entries for a published capacity of {published}"));
        }
        if self.len * 4 > capacity * 3 {
            return Err(format!("{} sessions in {capacity} slots", self.len));
        }
        let mut live = 0;
        let mut slots = table.slots();
        for index in 0..capacity {
            let Some(slot) = slots.next() else {
                return Err(format!("slot {index} of {capacity} has no block"));
            };
            let key = slot.key.load(Ordering::Acquire);
            let word = slot.word.load(Ordering::Acquire);
            match &self.by_slot[index] {
                None if key != EMPTY || !is_frozen(word) => {
                    return Err(format!("empty slot {index} holds key {key} or is unfrozen"));
                }
                None => {}
                Some(entry) => {
                    live += 1;
                    if key != key_of(entry.id) || is_frozen(word) {
                        return Err(format!("slot {index} of session {} is wrong", entry.id));
                    }
                    let hash = crate::server::hash::mix(key);
                    if self.find(table, entry.id, hash) != Some(index) {
                        return Err(format!("session {} unreachable from its home", entry.id));
                    }
                }
            }
        }
        if live != self.len {
            return Err(format!("{live} sessions in slots, {} counted", self.len));
        }
        Ok(())
    }
}

#[cfg(feature = "corruption")]
mod corrupt;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::server::hash::mix;
    use crate::server::limits::UserIp;
    use crate::server::session::{NewSession, Origin};

    fn entry(key: u64) -> Arc<SessionEntry> {
        let id = SessionId::new(i64::try_from(key).expect("small")).expect("positive");
        let pair = std::sync::Arc::new(UserIp::new("u", "ip"));
        Arc::new(SessionEntry::new(NewSession {
            id,
            pair,
            now_unix_ms: 0,
            caller: None,
            space_set_unix_ms: 0,
            origin: Origin::LoggedIn,
        }))
    }

    fn id(key: u64) -> SessionId {
        SessionId::new(i64::try_from(key).expect("small")).expect("positive")
    }

    #[test]
    fn the_table_grows_only_past_three_quarters_full() {
        let table = SlotTable::new();
        let mut entries = Entries::default();
        let mut capacities = Vec::new();
        for key in 1..=19 {
            entries.insert(&table, mix(key), 0, entry(key)).expect("room");
            capacities.push(entries.by_slot.len());
        }
        // 8 slots hold 6 sessions, 24 hold 18; the 7th and the 19th add a block.
        let expected: Vec<usize> = (1..=19)
            .map(|len| {
                if len <= 6 {
                    8
                } else if len <= 18 {
                    24
                } else {
                    56
                }
            })
            .collect();
        assert_eq!(capacities, expected);
        entries.check(&table).expect("sound");
    }

    #[test]
    fn a_session_shifted_back_into_a_slot_takes_a_new_tenure() {
        let table = SlotTable::new();
        let mut entries = Entries::default();
        // Two sessions with the same home and the same activity time: the second sits next.
        let twin = (2..).find(|&key| home(mix(key), 8) == home(mix(1), 8)).expect("one exists");
        entries.insert(&table, mix(1), 100, entry(1)).expect("room");
        entries.insert(&table, mix(twin), 100, entry(twin)).expect("room");
        let index = entries.find(&table, id(1), mix(1)).expect("in");
        let slot = table.slot(index).expect("allocated");
        // A reader read session 1's word, then stalled; session 1 ends and its twin shifts in.
        let stale = slot.word.load(Ordering::Acquire);
        let frozen = entries.freeze(&table, index).expect("live");
        entries.remove(&table, frozen).expect("removed");
        assert_eq!(entries.find(&table, id(twin), mix(twin)), Some(index), "shifted back");
        assert_eq!(raise(&slot.word, stale, 500), None, "landed on the shifted session");
        assert_eq!(time_of(slot.word.load(Ordering::Acquire)), 100);
        entries.check(&table).expect("consistent");
    }

    #[test]
    fn the_check_refuses_a_table_past_three_quarters_or_with_a_stray_empty_slot() {
        let table = SlotTable::new();
        let mut entries = Entries::default();
        entries.insert(&table, mix(1), 0, entry(1)).expect("room");
        entries.check(&table).expect("sound");
        // A live session's slot left frozen (a writer that never finished).
        let index = entries.find(&table, id(1), mix(1)).expect("in");
        let frozen = entries.freeze(&table, index).expect("live");
        assert!(entries.check(&table).is_err(), "a live session frozen");
        entries.unfreeze(&table, frozen);
        entries.check(&table).expect("sound again");
        // Placed past the load limit, bypassing growth: 7 sessions in 8 slots.
        let mut crowded = Entries::default();
        let crowded_table = SlotTable::new();
        crowded.grow(&crowded_table).expect("first block");
        for key in 1..=7 {
            crowded.place(&crowded_table, mix(key), 0, entry(key)).expect("a new key");
        }
        crowded.len = 7;
        assert_eq!(crowded.check(&crowded_table), Err("7 sessions in 8 slots".to_owned()));
        // An empty slot that holds a key, and one whose word is not frozen.
        let empty = (0..8).find(|&index| entries.by_slot[index].is_none()).expect("room");
        let slot = table.slot(empty).expect("allocated");
        slot.key.store(99, Ordering::Release);
        assert!(entries.check(&table).is_err(), "a key in an empty slot");
        slot.key.store(EMPTY, Ordering::Release);
        entries.check(&table).expect("sound again");
        let word = slot.word.load(Ordering::Acquire);
        slot.word.store(word & !FROZEN, Ordering::Release);
        assert!(entries.check(&table).is_err(), "an empty slot not frozen");
    }

    #[test]
    fn slot_addresses_cover_the_blocks_without_gaps() {
        let table = SlotTable::new();
        for block in 0..4 {
            table.blocks[block]
                .get_or_init(|| (0..BLOCK0_SLOTS << block).map(|_| Slot::empty()).collect());
        }
        let capacity = capacity_of(4);
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..capacity {
            let slot = table.slot(index).expect("allocated");
            assert!(seen.insert(std::ptr::from_ref(slot) as usize), "slot {index} aliased");
        }
        assert!(table.slot(capacity).is_none());
        assert!(table.slot(usize::MAX).is_none());
        // The walk in index order meets the same slots, and stops where the blocks do.
        let walked: Vec<*const Slot> = table.slots().map(std::ptr::from_ref).collect();
        let indexed: Vec<*const Slot> =
            (0..capacity).filter_map(|index| table.slot(index)).map(std::ptr::from_ref).collect();
        assert_eq!(walked, indexed);
    }

    #[test]
    fn words_pack_time_and_tag_apart() {
        let word = pack(NOW_UNIX_MS_MAX, TAG_MASK);
        assert_eq!(
            (time_of(word), tag_of(word), is_frozen(word)),
            (NOW_UNIX_MS_MAX, TAG_MASK, false)
        );
        assert_eq!(tag_of(pack(5, TAG_MASK + 1)), 0, "tags wrap");
        assert_eq!(time_of(pack(u64::MAX, 1)), NOW_UNIX_MS_MAX, "times saturate");
        assert!(is_frozen(pack(1, 1) | FROZEN));
    }

    #[test]
    fn distance_wraps() {
        assert_eq!(distance(3, 5, 8), 2);
        assert_eq!(distance(6, 1, 8), 3);
        assert_eq!(distance(4, 4, 8), 0);
    }

    #[test]
    fn a_touch_holding_a_word_of_the_previous_tenant_never_lands() {
        let table = SlotTable::new();
        let mut entries = Entries::default();
        entries.insert(&table, mix(1), 100, entry(1)).expect("room");
        let index = entries.find(&table, id(1), mix(1)).expect("in");
        let slot = table.slot(index).expect("allocated");
        // A reader read session 1's word, then stalled.
        let stale = slot.word.load(Ordering::Acquire);
        let frozen = entries.freeze(&table, index).expect("live");
        assert_eq!(touch_slot_unlocked(slot, 1, 500), FastTouch::Unsure, "frozen: ask the lock");
        entries.remove(&table, frozen).expect("removed");
        // Session 2 takes the very slot (same home) with the same activity time.
        let twin = (2..).find(|&key| home(mix(key), 8) == home(mix(1), 8)).expect("one exists");
        entries.insert(&table, mix(twin), 100, entry(twin)).expect("room");
        assert_eq!(entries.find(&table, id(twin), mix(twin)), Some(index));
        assert_eq!(raise(&slot.word, stale, 500), None, "landed on the next tenant");
        assert_eq!(time_of(slot.word.load(Ordering::Acquire)), 100);
        // A reader that found session 1's key there before the swap and reads the word only
        // now: the word is the new tenant's, unfrozen, and the key no longer matches.
        assert_eq!(touch_slot_unlocked(slot, 1, 500), FastTouch::Unsure, "the key moved on");
        assert_eq!(time_of(slot.word.load(Ordering::Acquire)), 100);
        entries.check(&table).expect("consistent");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(u64),
        TouchUnlocked(u64, u64),
        TouchLocked(u64, u64),
        FreezeAndUnfreeze(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 1..200_u64;
        prop_oneof![
            3 => key.clone().prop_map(Op::Insert),
            2 => key.clone().prop_map(Op::Remove),
            2 => (key.clone(), 0..1_000_u64).prop_map(|(k, t)| Op::TouchUnlocked(k, t)),
            1 => (key.clone(), 0..1_000_u64).prop_map(|(k, t)| Op::TouchLocked(k, t)),
            1 => key.prop_map(Op::FreezeAndUnfreeze),
        ]
    }

    proptest! {
        /// The table against a map from key to last activity, single-threaded (loom covers the
        /// races): growth, backward shifts over the wrap-around and re-tenures lose nothing.
        #[test]
        fn the_table_behaves_like_a_map(ops in proptest::collection::vec(op(), 1..400)) {
            let table = SlotTable::new();
            let mut entries = Entries::default();
            let mut model: BTreeMap<u64, u64> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(key) => {
                        if entries.find(&table, id(key), mix(key)).is_none() {
                            entries.insert(&table, mix(key), key, entry(key)).expect("room");
                            model.insert(key, key);
                        }
                    }
                    Op::Remove(key) => {
                        let index = entries.find(&table, id(key), mix(key));
                        let frozen = index.and_then(|index| entries.freeze(&table, index));
                        let removed = frozen.map(|frozen| {
                            let last = frozen.last_ms();
                            (entries.remove(&table, frozen).expect("live").id, last)
                        });
                        let expected = model.remove(&key).map(|last| (id(key), last));
                        prop_assert_eq!(removed, expected);
                    }
                    Op::TouchUnlocked(key, now) => {
                        let touched = table.touch_unlocked(id(key), mix(key), now);
                        // Single-threaded nothing is moving: the fast path is exact.
                        prop_assert_eq!(touched == FastTouch::Touched, model.contains_key(&key));
                        if let Some(last) = model.get_mut(&key) {
                            *last = (*last).max(now);
                        }
                    }
                    Op::TouchLocked(key, now) => {
                        let found = entries.get(&table, id(key), mix(key));
                        prop_assert_eq!(found.is_some(), model.contains_key(&key));
                        if let (Some(found), Some(last)) = (found, model.get_mut(&key)) {
                            found.activity.touch(now);
                            *last = (*last).max(now);
                        }
                    }
                    Op::FreezeAndUnfreeze(key) => {
                        if let Some(index) = entries.find(&table, id(key), mix(key)) {
                            let frozen = entries.freeze(&table, index).expect("live");
                            prop_assert_eq!(
                                table.touch_unlocked(id(key), mix(key), 5_000),
                                FastTouch::Unsure
                            );
                            prop_assert_eq!(Some(frozen.last_ms()), model.get(&key).copied());
                            entries.unfreeze(&table, frozen);
                        }
                    }
                }
                prop_assert_eq!(entries.check(&table), Ok(()));
                let actual: BTreeMap<u64, u64> = entries
                    .iter(&table)
                    .map(|found| (key_of(found.entry.id), found.activity.last_ms()))
                    .collect();
                prop_assert_eq!(&actual, &model);
            }
        }
    }
}
