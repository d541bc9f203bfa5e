//! The floor of find + touch and the rungs between it and the registry: each rung adds one of
//! the registry's differences to the one below, so the criterion bench `server_registry` can
//! show where the registry's time above the floor goes.
//!
//! - [`Floor`]: one flat open-addressing table of 16-byte `(key, activity)` slots, at most half
//!   full, one allocation; a touch is one probe and one compare-and-swap.
//! - [`FloorShards`]: the same, split into 64 shards picked by the registry's shard bits
//!   (`hash >> 32`), each one flat table of its own allocation: what sharding alone costs (a
//!   read of the shard's table pointer and mask, and 64 allocations instead of one).
//! - [`FloorBlocks`]: the registry's slot table without its tags, frozen bits and key re-read:
//!   64 shards of 128-byte-aligned headers, each an atomic capacity and 26 `OnceLock`ed blocks
//!   of doubling size (8, 16, 32, ... slots), separately allocated as the table grows at three
//!   quarters' load, homes by multiply-shift over a capacity of `8 * (2^b - 1)` slots, and a
//!   slot found by the registry's block arithmetic: the registry's layout and header reads.
//!
//! [`FloorShards`] and [`FloorBlocks`] also come with their slots in one allocation (per node, or
//! per shard), running the same instructions, so a difference between the twins is layout alone.
//! Two diagnostics, not designs, serve the `touch_ladder` example: [`Floor::touch_store`] (a plain
//! store for the compare-and-swap) and [`Floor::touch_padded`] (arithmetic no load waits for).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

type Slot = (AtomicU64, AtomicU64);

fn empty_slot() -> Slot {
    (AtomicU64::new(0), AtomicU64::new(0))
}

/// The registry's id hash (`hash::mix`): a folded 64x64 -> 128-bit multiply.
pub(crate) fn mix(key: u64) -> u64 {
    let product = u128::from(key) * 0x9E37_79B9_7F4A_7C15;
    u64::try_from(product >> 64).unwrap() ^ u64::try_from(product & u128::from(u64::MAX)).unwrap()
}

/// Raises `word` to `now` with compare-and-swap (one when the activity moves).
fn raise(word: &AtomicU64, now: u64) {
    let mut seen = word.load(Ordering::Acquire);
    while seen < now {
        match word.compare_exchange(seen, now, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(actual) => seen = actual,
        }
    }
}

/// The floor of find + touch on this machine: an open-addressing table of `(key, activity)`
/// slots, 16 bytes each as in the registry, in one flat array at most half full, and a touch
/// that is one probe (nearly always one random cache line) plus one compare-and-swap when the
/// activity moves. No shards, blocks, tags, frozen bits or clock: what any lock-free table must
/// pay at least, so the registry's find + touch can be read against it.
pub(crate) struct Floor {
    slots: Box<[Slot]>,
    mask: usize,
}

impl Floor {
    pub(crate) fn new(size: usize) -> Floor {
        let capacity = (size * 2).next_power_of_two();
        Floor { slots: (0..capacity).map(|_| empty_slot()).collect(), mask: capacity - 1 }
    }

    fn home(&self, hash: u64) -> usize {
        usize::try_from(hash).unwrap() & self.mask
    }

    pub(crate) fn insert(&self, key: u64, now: u64) {
        let mut index = self.home(mix(key));
        while self.slots[index].0.load(Ordering::Relaxed) != 0 {
            index = (index + 1) & self.mask;
        }
        self.slots[index].1.store(now, Ordering::Relaxed);
        self.slots[index].0.store(key, Ordering::Release);
    }

    /// [`Floor::touch`] with a plain store for the compare-and-swap: not a valid touch (two
    /// threads can lose a raise), a diagnostic of what the locked instruction costs. On x86 a
    /// locked instruction is a full barrier: the next touch's loads wait for it.
    /// [`Floor::touch`] after `rounds` rounds (three instructions each) of arithmetic on the key
    /// that no load waits for: a diagnostic of what instructions alone cost a touch, with no
    /// memory access or dependence added.
    #[allow(dead_code, reason = "the touch_ladder example's diagnostic")]
    pub(crate) fn touch_padded(&self, key: u64, now: u64, rounds: u32) -> bool {
        let mut spin = key;
        for _ in 0..rounds {
            spin = spin.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (spin >> 7);
        }
        std::hint::black_box(spin);
        self.touch(key, now)
    }

    #[allow(dead_code, reason = "the touch_ladder example's diagnostic")]
    pub(crate) fn touch_store(&self, key: u64, now: u64) -> bool {
        let mut index = self.home(mix(key));
        loop {
            let (found, word) = &self.slots[index];
            match found.load(Ordering::Acquire) {
                0 => return false,
                found if found == key => {
                    if word.load(Ordering::Acquire) < now {
                        word.store(now, Ordering::Release);
                    }
                    return true;
                }
                _ => index = (index + 1) & self.mask,
            }
        }
    }

    pub(crate) fn touch(&self, key: u64, now: u64) -> bool {
        let mut index = self.home(mix(key));
        loop {
            let (found, word) = &self.slots[index];
            match found.load(Ordering::Acquire) {
                0 => return false,
                found if found == key => {
                    raise(word, now);
                    return true;
                }
                _ => index = (index + 1) & self.mask,
            }
        }
    }
}

const SHARDS: usize = 64;

fn shard_of(hash: u64) -> usize {
    usize::try_from((hash >> 32) & (SHARDS as u64 - 1)).unwrap()
}

/// [`Floor`] split into 64 flat tables picked as the registry picks its shards: each of its own
/// allocation, or all 64 as consecutive parts of one allocation. The two run the same
/// instructions (a read of the shard's `(allocation, start, mask)` before the probe), so any
/// difference between them is where the slots lie in memory.
pub(crate) struct FloorShards {
    allocations: Vec<Box<[Slot]>>,
    shards: Vec<(usize, usize, usize)>,
}

impl FloorShards {
    pub(crate) fn new(keys: &[u64], one_allocation: bool) -> FloorShards {
        let mut counts = [0_usize; SHARDS];
        for &key in keys {
            counts[shard_of(mix(key))] += 1;
        }
        let capacities = counts.map(|count| (count.max(1) * 2).next_power_of_two());
        let allocate = |capacity: usize| (0..capacity).map(|_| empty_slot()).collect();
        let mut shards = Vec::with_capacity(SHARDS);
        let mut start = 0;
        for (shard, capacity) in capacities.iter().enumerate() {
            if one_allocation {
                shards.push((0, start, capacity - 1));
                start += capacity;
            } else {
                shards.push((shard, 0, capacity - 1));
            }
        }
        let allocations = if one_allocation {
            vec![allocate(start)]
        } else {
            capacities.iter().map(|&capacity| allocate(capacity)).collect()
        };
        FloorShards { allocations, shards }
    }

    pub(crate) fn insert(&self, key: u64, now: u64) {
        let hash = mix(key);
        let (allocation, start, mask) = self.shards[shard_of(hash)];
        let slots = &self.allocations[allocation];
        let mut index = usize::try_from(hash).unwrap() & mask;
        while slots[start + index].0.load(Ordering::Relaxed) != 0 {
            index = (index + 1) & mask;
        }
        slots[start + index].1.store(now, Ordering::Relaxed);
        slots[start + index].0.store(key, Ordering::Release);
    }

    pub(crate) fn touch(&self, key: u64, now: u64) -> bool {
        let hash = mix(key);
        let (allocation, start, mask) = self.shards[shard_of(hash)];
        let slots = &self.allocations[allocation];
        let mut index = usize::try_from(hash).unwrap() & mask;
        loop {
            let (found, word) = &slots[start + index];
            match found.load(Ordering::Acquire) {
                0 => return false,
                found if found == key => {
                    raise(word, now);
                    return true;
                }
                _ => index = (index + 1) & mask,
            }
        }
    }
}

const BLOCK0_SLOTS_LOG2: u32 = 3;
const BLOCK0_SLOTS: usize = 1 << BLOCK0_SLOTS_LOG2;
const BLOCKS_MAX: usize = 26;

fn capacity_of(blocks: usize) -> usize {
    BLOCK0_SLOTS * ((1 << blocks) - 1)
}

/// One shard of [`FloorBlocks`], laid out as the registry's `SlotTable` inside its `Shard`.
#[repr(align(128))]
struct BlockShard {
    /// Leaked (the bench never frees them): a `&'static` slice has a `Box`'s layout.
    blocks: [OnceLock<&'static [Slot]>; BLOCKS_MAX],
    /// With one allocation per shard: the slots of all the blocks the shard will grow to.
    reserved: Option<&'static [Slot]>,
    capacity: AtomicUsize,
    /// Sessions in the shard (the registry keeps it under the shard's lock).
    len: AtomicUsize,
}

impl BlockShard {
    fn home(hash: u64, capacity: usize) -> usize {
        usize::try_from((u128::from(hash) * capacity as u128) >> 64).unwrap()
    }

    /// The registry's `SlotTable::slot`.
    fn slot(&self, index: usize) -> Option<&Slot> {
        let shifted = index.checked_add(BLOCK0_SLOTS)?;
        let top = usize::BITS - 1 - shifted.leading_zeros();
        let block = usize::try_from(top - BLOCK0_SLOTS_LOG2).ok()?;
        let offset = shifted - (1 << top);
        self.blocks.get(block)?.get()?.get(offset)
    }

    fn place(&self, key: u64, word: u64) {
        let capacity = self.capacity.load(Ordering::Relaxed);
        let mut index = BlockShard::home(mix(key), capacity);
        while let Some(slot) = self.slot(index) {
            if slot.0.load(Ordering::Relaxed) == 0 {
                slot.1.store(word, Ordering::Relaxed);
                slot.0.store(key, Ordering::Release);
                return;
            }
            index = if index + 1 == capacity { 0 } else { index + 1 };
        }
    }

    /// Adds one block and places every key again, as the registry grows.
    fn grow(&self) {
        let capacity = self.capacity.load(Ordering::Relaxed);
        let blocks = (0..BLOCKS_MAX).find(|&block| capacity_of(block) == capacity).unwrap();
        let live: Vec<(u64, u64)> = (0..capacity)
            .filter_map(|index| self.slot(index))
            .filter(|slot| slot.0.load(Ordering::Relaxed) != 0)
            .map(|slot| (slot.0.swap(0, Ordering::Relaxed), slot.1.load(Ordering::Relaxed)))
            .collect();
        self.blocks[blocks].get_or_init(|| match self.reserved {
            Some(reserved) => &reserved[capacity..capacity_of(blocks + 1)],
            None => Box::leak((0..BLOCK0_SLOTS << blocks).map(|_| empty_slot()).collect()),
        });
        self.capacity.store(capacity_of(blocks + 1), Ordering::Release);
        for (key, word) in live {
            self.place(key, word);
        }
    }
}

/// The registry's slot-table layout and header reads, without its tags and frozen bits.
pub(crate) struct FloorBlocks {
    shards: Vec<BlockShard>,
}

impl FloorBlocks {
    /// Blocks separately allocated as each shard grows, or (`one_allocation`) carved out of
    /// one allocation per shard, sized for the shard's share of `keys`.
    pub(crate) fn new(keys: &[u64], one_allocation: bool) -> FloorBlocks {
        let mut counts = [0_usize; SHARDS];
        for &key in keys {
            counts[shard_of(mix(key))] += 1;
        }
        let shard = |count: usize| {
            let blocks = (0..BLOCKS_MAX).find(|&blocks| count * 4 <= capacity_of(blocks) * 3);
            let capacity = capacity_of(blocks.unwrap());
            let reserve =
                || -> &'static [Slot] { Box::leak((0..capacity).map(|_| empty_slot()).collect()) };
            BlockShard {
                blocks: std::array::from_fn(|_| OnceLock::new()),
                reserved: one_allocation.then(reserve),
                capacity: AtomicUsize::new(0),
                len: AtomicUsize::new(0),
            }
        };
        FloorBlocks { shards: counts.iter().map(|&count| shard(count)).collect() }
    }

    pub(crate) fn insert(&self, key: u64, now: u64) {
        let shard = &self.shards[shard_of(mix(key))];
        let len = shard.len.load(Ordering::Relaxed);
        if (len + 1) * 4 > shard.capacity.load(Ordering::Relaxed) * 3 {
            shard.grow();
        }
        shard.place(key, now);
        shard.len.store(len + 1, Ordering::Relaxed);
    }

    /// The registry's `SlotTable::touch_unlocked`, less the tag and the key's re-read.
    pub(crate) fn touch(&self, key: u64, now: u64) -> bool {
        let hash = mix(key);
        let shard = &self.shards[shard_of(hash)];
        let capacity = shard.capacity.load(Ordering::Acquire);
        if capacity == 0 {
            return false;
        }
        let mut index = BlockShard::home(hash, capacity);
        for _ in 0..32 {
            let Some(slot) = shard.slot(index) else { return false };
            match slot.0.load(Ordering::Acquire) {
                0 => return false,
                found if found == key => {
                    raise(&slot.1, now);
                    return true;
                }
                _ => index = if index + 1 == capacity { 0 } else { index + 1 },
            }
        }
        false
    }
}
