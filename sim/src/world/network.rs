//! The simulated network: one queue of messages ordered by (deliver at, send order), with FIFO per
//! link (a message never overtakes an earlier one on the same socket or the same node-meta link,
//! unless the reorder fault moves it), so delivery order is fully fixed by the seed.
//!
//! Partitions: a client socket across a cut link keeps its traffic queued (TCP retransmits)
//! until the link heals or the socket is reset; a node cut from meta loses its messages both
//! ways (the sync protocol's requests are retried after their timeout).

use std::collections::{BTreeSet, VecDeque};

use graphsession_core::client::{ConnectionId, Request, TransportEvent};
use graphsession_core::cluster::{Answer, Request as SyncRequest};

/// One message in flight.
#[derive(Debug, Clone)]
pub enum Message {
    /// A client's request on socket `connection` to graph node `node`.
    ToNode {
        /// The node.
        node: u16,
        /// The socket.
        connection: ConnectionId,
        /// The request.
        request: Request,
    },
    /// Socket `connection` closed (by its client, a reset or the client process's death): the
    /// node sees it after what was sent before it, as TCP delivers a FIN after the data.
    ClosedAtNode {
        /// The node.
        node: u16,
        /// The socket.
        connection: ConnectionId,
    },
    /// A transport event (dial result, reply, reset) for the client owning `connection`.
    ToClient {
        /// The socket.
        connection: ConnectionId,
        /// What the client's transport reports.
        event: TransportEvent,
    },
    /// A node's sync request to meta.
    ToMeta {
        /// The sending node.
        node: u16,
        /// The request.
        request: SyncRequest,
        /// When the request carries the node's query report, the long queries its executor ran
        /// as the node built it (see [`Send::ToMeta`](crate::world::node::Send::ToMeta)).
        running: Option<Vec<graphsession_query_plan::QueryKey>>,
    },
    /// Meta's answer to a node.
    FromMeta {
        /// The receiving node.
        node: u16,
        /// The answer.
        answer: Answer,
        /// The world step at which meta produced it (the kill oracle's reference).
        produced_step: u64,
    },
}

impl Message {
    /// The link the message travels on: FIFO within one link.
    fn link(&self) -> (u8, u64) {
        match self {
            Message::ToNode { connection, .. } | Message::ClosedAtNode { connection, .. } => {
                (0, connection.0)
            }
            Message::ToClient { connection, .. } => (1, connection.0),
            Message::ToMeta { node, .. } => (2, u64::from(*node)),
            Message::FromMeta { node, .. } => (3, u64::from(*node)),
        }
    }

    /// The client socket the message travels on, if any.
    pub fn connection(&self) -> Option<ConnectionId> {
        match self {
            Message::ToNode { connection, .. }
            | Message::ClosedAtNode { connection, .. }
            | Message::ToClient { connection, .. } => Some(*connection),
            Message::ToMeta { .. } | Message::FromMeta { .. } => None,
        }
    }

    /// Whether the message is between a node and meta.
    pub fn is_meta(&self) -> bool {
        matches!(self, Message::ToMeta { .. } | Message::FromMeta { .. })
    }
}

/// The smallest size at which the links' last delivery times are swept.
const LINK_SWEEP_LEN_MIN: usize = 16;

/// Messages in flight.
///
/// The queues order keys only; the messages (a few hundred bytes each) stay put in a slab, so
/// the queues' inserts and removals move 16-byte keys and 4-byte slots, not messages. Messages
/// of held sockets wait in a queue of their own, so the next deliverable message is always the
/// first of `queue`; released, they go back under the keys they were sent with.
#[derive(Debug, Default)]
pub struct Network {
    /// Deliverable messages: (deliver at, send order) -> the message's slot in `slab`.
    queue: Keyed,
    /// Messages of held sockets, keyed as in `queue`.
    parked: Keyed,
    /// Messages in flight by slot; `None` is a free slot.
    slab: Vec<Option<Message>>,
    /// Free slots of `slab`.
    free: Vec<u32>,
    sent: u64,
    /// The latest delivery time of each link that may still hold a later message back: a link
    /// whose last delivery is not after `now` holds none back (time never goes back), so
    /// those are swept out now and then.
    /// Sorted by link (a few dozen at most: a sorted list, no tree node to allocate).
    link_last_ms: Vec<((u8, u64), u64)>,
    /// The size of `link_last_ms` at which it is swept next.
    link_sweep_len: usize,
    /// The latest `now_ms` sent at (sends come in time order).
    now_ms: u64,
    /// Client sockets across a cut link: their messages wait.
    held: BTreeSet<ConnectionId>,
    /// Nodes cut from meta: their messages are lost.
    cut_from_meta: BTreeSet<u16>,
}

impl Network {
    /// Sends `message` to arrive `delay_ms` after `now_ms`, but never before an earlier message of
    /// its link. `now_ms` is the world's true time, which never goes back between calls.
    pub fn send(&mut self, now_ms: u64, delay_ms: u64, message: Message) {
        debug_assert!(now_ms >= self.now_ms, "sent at {now_ms} after {}", self.now_ms);
        self.now_ms = now_ms;
        if self.is_lost(&message) {
            return;
        }
        if self.link_last_ms.len() >= self.link_sweep_len {
            // An entry at or before now changes no delivery time from now on: max(now + delay,
            // last) is now + delay. The sweep keeps the map about as small as the links busy.
            self.link_last_ms.retain(|&(_, last)| last > now_ms);
            self.link_sweep_len = (2 * self.link_last_ms.len()).max(LINK_SWEEP_LEN_MIN);
        }
        let link = message.link();
        let mut deliver_at = now_ms.saturating_add(delay_ms);
        match self.link_last_ms.binary_search_by(|(on, _)| on.cmp(&link)) {
            Ok(at) => {
                let last = &mut self.link_last_ms[at].1;
                deliver_at = deliver_at.max(*last);
                *last = deliver_at;
            }
            Err(at) => self.link_last_ms.insert(at, (link, deliver_at)),
        }
        self.enqueue(deliver_at, message);
    }

    /// Puts `message` in flight at `deliver_at`, after everything sent before it.
    fn enqueue(&mut self, deliver_at: u64, message: Message) {
        self.sent += 1;
        let key = (deliver_at, self.sent);
        let held = self.is_held(&message);
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(free) = self.slab.get_mut(slot as usize) {
                    *free = Some(message);
                }
                slot
            }
            None => {
                self.slab.push(Some(message));
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if held {
            self.parked.insert(key, slot);
        } else {
            self.queue.insert(key, slot);
        }
    }

    /// The message in `slot`.
    fn message(&self, slot: u32) -> Option<&Message> {
        self.slab.get(slot as usize).and_then(Option::as_ref)
    }

    /// Takes the message out of `slot`, freeing it.
    fn take(&mut self, slot: u32) -> Option<Message> {
        let message = self.slab.get_mut(slot as usize)?.take();
        self.free.push(slot);
        message
    }

    /// Keys of `queue` whose messages `pick` picks, in order.
    fn keys_where(&self, queue: &Keyed, mut pick: impl FnMut(&Message) -> bool) -> Vec<(u64, u64)> {
        queue
            .iter()
            .filter(|&(_, &slot)| self.message(slot).is_some_and(&mut pick))
            .map(|(key, _)| *key)
            .collect()
    }

    /// Removes the messages `doomed` picks, held or not; returns how many.
    fn remove_where(&mut self, mut doomed: impl FnMut(&Message) -> bool) -> usize {
        let deliverable = self.keys_where(&self.queue, &mut doomed);
        let parked = self.keys_where(&self.parked, &mut doomed);
        for key in &deliverable {
            if let Some(slot) = self.queue.remove(key) {
                let _dropped = self.take(slot);
            }
        }
        for key in &parked {
            if let Some(slot) = self.parked.remove(key) {
                let _dropped = self.take(slot);
            }
        }
        deliverable.len() + parked.len()
    }

    fn is_lost(&self, message: &Message) -> bool {
        match message {
            Message::ToMeta { node, .. } | Message::FromMeta { node, .. } => {
                self.cut_from_meta.contains(node)
            }
            _ => false,
        }
    }

    fn is_held(&self, message: &Message) -> bool {
        !self.held.is_empty() && message.connection().is_some_and(|c| self.held.contains(&c))
    }

    /// The earliest message due at `now_ms` (not held by a partition), removed from the network.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Message> {
        let slot = self.queue.pop_first_due(now_ms)?;
        self.take(slot)
    }

    /// When the next deliverable message arrives.
    pub fn next_at_ms(&self) -> Option<u64> {
        self.queue.first_key().map(|key| key.0)
    }

    /// Holds (`true`) or releases the traffic of socket `connection`.
    pub fn hold(&mut self, connection: ConnectionId, held: bool) {
        let changed =
            if held { self.held.insert(connection) } else { self.held.remove(&connection) };
        if changed {
            self.move_where(held, |c| c == connection);
        }
    }

    /// Holds (`true`) or releases the traffic of every socket of `connections` (sorted): what
    /// [`hold`](Self::hold) of each does, in one pass over the messages in flight.
    pub fn hold_all(&mut self, connections: &[ConnectionId], held: bool) {
        let changed: Vec<ConnectionId> = connections
            .iter()
            .copied()
            .filter(|&c| if held { self.held.insert(c) } else { self.held.remove(&c) })
            .collect();
        if !changed.is_empty() {
            self.move_where(held, |c| changed.binary_search(&c).is_ok());
        }
    }

    /// Moves the messages of the sockets `on` picks to the held queue (`held`) or back.
    fn move_where(&mut self, held: bool, on: impl Fn(ConnectionId) -> bool) {
        let (from, to) = if held {
            (&mut self.queue, &mut self.parked)
        } else {
            (&mut self.parked, &mut self.queue)
        };
        let slab = &self.slab;
        let moved: Vec<(u64, u64)> = from
            .iter()
            .filter(|&(_, &slot)| {
                let message = slab.get(slot as usize).and_then(Option::as_ref);
                message.and_then(Message::connection).is_some_and(&on)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in moved {
            if let Some(slot) = from.remove(&key) {
                to.insert(key, slot);
            }
        }
    }

    /// Whether a message is in flight on socket `connection`.
    pub fn carries(&self, connection: ConnectionId) -> bool {
        self.carries_where(|c| c == connection)
    }

    /// Whether a message is in flight on any socket of `connections` (sorted).
    pub fn carries_any(&self, connections: &[ConnectionId]) -> bool {
        self.carries_where(|c| connections.binary_search(&c).is_ok())
    }

    fn carries_where(&self, on: impl Fn(ConnectionId) -> bool) -> bool {
        self.queue
            .values()
            .chain(self.parked.values())
            .any(|&slot| self.message(slot).and_then(Message::connection).is_some_and(&on))
    }

    /// Cuts (`true`) or heals node `node`'s link to meta; a cut loses what is in flight on it.
    pub fn cut_from_meta(&mut self, node: u16, cut: bool) {
        if cut {
            self.cut_from_meta.insert(node);
            let cut = self.cut_from_meta.clone();
            let lost = |message: &Message| match message {
                Message::ToMeta { node, .. } | Message::FromMeta { node, .. } => cut.contains(node),
                _ => false,
            };
            let _lost = self.remove_where(lost);
        } else {
            self.cut_from_meta.remove(&node);
        }
    }

    /// Releases every held socket and heals every node-meta link.
    pub fn heal_all(&mut self) {
        self.held.clear();
        self.cut_from_meta.clear();
        self.queue.append(&mut self.parked);
    }

    /// Drops every node-meta message in flight (meta's leader crashed); returns how many.
    pub fn drop_meta_messages(&mut self) -> usize {
        self.remove_where(Message::is_meta)
    }

    /// The key of the `pick`-th (modulo their count) node-meta message in flight (never held:
    /// only client sockets are).
    fn meta_key(&self, pick: u64) -> Option<(u64, u64)> {
        let is_meta = |slot: u32| self.message(slot).is_some_and(Message::is_meta);
        let count = self.queue.values().filter(|&&slot| is_meta(slot)).count();
        let count = u64::try_from(count).ok().filter(|&count| count > 0)?;
        let index = usize::try_from(pick % count).ok()?;
        self.queue.iter().filter(|&(_, &slot)| is_meta(slot)).nth(index).map(|(key, _)| *key)
    }

    /// Delivers a copy of the `pick`-th node-meta message in flight again, `extra_ms` after the
    /// original (outside the link's order); returns whether there was one.
    pub fn duplicate_meta_message(&mut self, pick: u64, extra_ms: u64) -> bool {
        let Some(key) = self.meta_key(pick) else { return false };
        let Some(copy) = self.queue.get(&key).and_then(|&slot| self.message(slot)).cloned() else {
            return false;
        };
        self.enqueue(key.0.saturating_add(extra_ms), copy);
        true
    }

    /// Moves the `pick`-th node-meta message in flight `extra_ms` later, past later messages of
    /// its link; returns whether there was one.
    pub fn delay_meta_message(&mut self, pick: u64, extra_ms: u64) -> bool {
        let Some(key) = self.meta_key(pick) else { return false };
        let Some(slot) = self.queue.remove(&key) else { return false };
        self.sent += 1;
        self.queue.insert((key.0.saturating_add(extra_ms), self.sent), slot);
        true
    }

    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.queue.len() + self.parked.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.parked.is_empty()
    }

    /// Drops the `pick`-th (modulo their count) node-meta message in flight; returns whether one was.
    pub fn drop_meta_message(&mut self, pick: u64) -> bool {
        let Some(key) = self.meta_key(pick) else { return false };
        match self.queue.remove(&key) {
            Some(slot) => self.take(slot).is_some(),
            None => false,
        }
    }

    /// Drops every message in flight on socket `connection` (a reset loses what the kernels held).
    pub fn drop_connection(&mut self, connection: ConnectionId) -> u32 {
        let dropped = self.remove_where(|message| message.connection() == Some(connection));
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }
}

/// A queue's keys (deliver at, send order) and their slots, in key order: a deque sorted by key.
/// New keys come in nearly in order (now plus a small delay), so an insert lands near the back
/// and the earliest leaves from the front; a tree would allocate a node whenever the queue
/// refills from empty, which is most steps.
#[derive(Debug, Default)]
struct Keyed {
    entries: VecDeque<((u64, u64), u32)>,
}

impl Keyed {
    /// Where `key` is, or would be inserted.
    fn position(&self, key: &(u64, u64)) -> Result<usize, usize> {
        self.entries.binary_search_by(|(at, _)| at.cmp(key))
    }

    /// Files `slot` under `key` (replacing what was there, as a map does).
    fn insert(&mut self, key: (u64, u64), slot: u32) {
        // Most keys are the largest yet.
        if self.entries.back().is_none_or(|&(last, _)| last < key) {
            self.entries.push_back((key, slot));
            return;
        }
        match self.position(&key) {
            Ok(at) => {
                if let Some(entry) = self.entries.get_mut(at) {
                    entry.1 = slot;
                }
            }
            Err(at) => self.entries.insert(at, (key, slot)),
        }
    }

    /// Takes out the slot under `key`.
    fn remove(&mut self, key: &(u64, u64)) -> Option<u32> {
        let at = self.position(key).ok()?;
        self.entries.remove(at).map(|(_, slot)| slot)
    }

    /// The slot under `key`.
    fn get(&self, key: &(u64, u64)) -> Option<&u32> {
        let at = self.position(key).ok()?;
        self.entries.get(at).map(|(_, slot)| slot)
    }

    /// The smallest key.
    fn first_key(&self) -> Option<(u64, u64)> {
        self.entries.front().map(|&(key, _)| key)
    }

    /// Takes out the first slot if its key is due at `now_ms`.
    fn pop_first_due(&mut self, now_ms: u64) -> Option<u32> {
        if self.entries.front()?.0.0 > now_ms {
            return None;
        }
        self.entries.pop_front().map(|(_, slot)| slot)
    }

    /// Keys and slots in key order.
    fn iter(&self) -> impl Iterator<Item = (&(u64, u64), &u32)> {
        self.entries.iter().map(|(key, slot)| (key, slot))
    }

    /// Slots in key order.
    fn values(&self) -> impl Iterator<Item = &u32> {
        self.entries.iter().map(|(_, slot)| slot)
    }

    /// Moves every entry of `other` here.
    fn append(&mut self, other: &mut Keyed) {
        for (key, slot) in other.entries.drain(..) {
            self.insert(key, slot);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
