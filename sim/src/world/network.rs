//! The simulated network: one queue of messages ordered by (deliver at, send order), with FIFO per
//! link (a message never overtakes an earlier one on the same socket or the same node-meta link),
//! so delivery order is fully fixed by the seed.

use std::collections::BTreeMap;

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
            Message::ToNode { connection, .. } => (0, connection.0),
            Message::ToClient { connection, .. } => (1, connection.0),
            Message::ToMeta { node, .. } => (2, u64::from(*node)),
            Message::FromMeta { node, .. } => (3, u64::from(*node)),
        }
    }

    /// The client socket the message travels on, if any.
    pub fn connection(&self) -> Option<ConnectionId> {
        match self {
            Message::ToNode { connection, .. } | Message::ToClient { connection, .. } => {
                Some(*connection)
            }
            Message::ToMeta { .. } | Message::FromMeta { .. } => None,
        }
    }

    /// Whether the message is between a node and meta.
    pub fn is_meta(&self) -> bool {
        matches!(self, Message::ToMeta { .. } | Message::FromMeta { .. })
    }
}

/// Messages in flight.
#[derive(Debug, Default)]
pub struct Network {
    queue: BTreeMap<(u64, u64), Message>,
    sent: u64,
    link_last_ms: BTreeMap<(u8, u64), u64>,
}

impl Network {
    /// Sends `message` to arrive `delay_ms` after `now_ms`, but never before an earlier message of
    /// its link.
    pub fn send(&mut self, now_ms: u64, delay_ms: u64, message: Message) {
        let link = message.link();
        let last = self.link_last_ms.get(&link).copied().unwrap_or(0);
        let deliver_at = now_ms.saturating_add(delay_ms).max(last);
        self.link_last_ms.insert(link, deliver_at);
        self.sent += 1;
        self.queue.insert((deliver_at, self.sent), message);
    }

    /// The earliest message due at `now_ms`, removed from the network.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Message> {
        let (&key, _) = self.queue.first_key_value()?;
        if key.0 > now_ms {
            return None;
        }
        self.queue.remove(&key)
    }

    /// When the next message arrives.
    pub fn next_at_ms(&self) -> Option<u64> {
        self.queue.first_key_value().map(|(key, _)| key.0)
    }

    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Drops the `pick`-th (modulo their count) node-meta message in flight; returns whether one was.
    pub fn drop_meta_message(&mut self, pick: u64) -> bool {
        let keys: Vec<(u64, u64)> = self
            .queue
            .iter()
            .filter(|(_, message)| message.is_meta())
            .map(|(key, _)| *key)
            .collect();
        let Ok(count) = u64::try_from(keys.len()) else { return false };
        if count == 0 {
            return false;
        }
        let index = usize::try_from(pick % count).unwrap_or(0);
        self.queue.remove(&keys[index]).is_some()
    }

    /// Drops every message in flight on socket `connection` (a reset loses what the kernels held).
    pub fn drop_connection(&mut self, connection: ConnectionId) -> u32 {
        let before = self.queue.len();
        self.queue.retain(|_, message| message.connection() != Some(connection));
        u32::try_from(before - self.queue.len()).unwrap_or(u32::MAX)
    }
}
