//! Feature `corruption`: break exactly one invariant of a live [`GraphNode`] (its own
//! bookkeeping, or its registry's through [`ManagerCorruption`]), so a test or a simulator can
//! show that [`GraphNode::check_invariants`] reports it. [`GraphNode::corrupt`] returns what
//! [`GraphNode::undo_corruption`] needs to put the node back exactly as it was.

use crate::node::GraphNode;
use crate::server::{ManagerCorruption, ManagerRestore};

/// One way to break (or to meet exactly) one invariant of a [`GraphNode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeCorruption {
    /// `waiting_connections_max` one below the connections waiting on meta (beyond the slack
    /// the sign-outs' queued requests are allowed; needs one waiting).
    WaitingConnectionsOverLimit,
    /// `waiting_connections_max` met exactly by the connections waiting on meta: sound.
    WaitingConnectionsAtLimit,
    /// `waiting_requests_per_connection_max` one below the most executes waiting for one
    /// pick-up (needs one waiting; no sign-out may queue more than the new limit).
    PickUpWaitersOverLimit,
    /// `waiting_requests_per_connection_max` met exactly by the most executes waiting for one
    /// pick-up: sound.
    PickUpWaitersAtLimit,
    /// `waiting_requests_per_connection_max` one below the longest queue behind a sign-out
    /// (needs one queued; every pick-up's queue and the waiting connections stay within it).
    SignOutQueueOverLimit,
    /// `waiting_requests_per_connection_max` met exactly by the longest queue behind a
    /// sign-out: sound.
    SignOutQueueAtLimit,
    /// The node forgets one query it handed to the executor: the query still runs in the
    /// registry, held by nothing (needs one handed out).
    QueryUnowned,
    /// A corruption of the node's session registry.
    Registry(ManagerCorruption),
}

impl NodeCorruption {
    /// Every corruption, in a fixed order.
    #[must_use]
    pub fn all() -> Vec<NodeCorruption> {
        let own = [
            NodeCorruption::WaitingConnectionsOverLimit,
            NodeCorruption::WaitingConnectionsAtLimit,
            NodeCorruption::PickUpWaitersOverLimit,
            NodeCorruption::PickUpWaitersAtLimit,
            NodeCorruption::SignOutQueueOverLimit,
            NodeCorruption::SignOutQueueAtLimit,
            NodeCorruption::QueryUnowned,
        ];
        let registry = ManagerCorruption::all().into_iter().map(NodeCorruption::Registry);
        own.into_iter().chain(registry).collect()
    }

    /// The property [`GraphNode::check_invariants`] must report once this corruption is
    /// applied; `None`: the node stays sound and the check must pass.
    #[must_use]
    pub fn property(self) -> Option<&'static str> {
        match self {
            NodeCorruption::WaitingConnectionsOverLimit => Some("waiting_connections_within_limit"),
            NodeCorruption::PickUpWaitersOverLimit => Some("pick_up_waiters_within_limit"),
            NodeCorruption::SignOutQueueOverLimit => Some("requests_behind_sign_out_within_limit"),
            NodeCorruption::QueryUnowned => Some("every_query_owned"),
            NodeCorruption::WaitingConnectionsAtLimit
            | NodeCorruption::PickUpWaitersAtLimit
            | NodeCorruption::SignOutQueueAtLimit => None,
            NodeCorruption::Registry(inner) => inner.property(),
        }
    }
}

/// What [`GraphNode::undo_corruption`] puts back.
#[derive(Debug)]
#[must_use = "a corrupted node stays corrupted until restored"]
pub enum NodeRestore {
    /// `waiting_connections_max` before the change.
    WaitingConnectionsMax(u32),
    /// `waiting_requests_per_connection_max` before the change.
    WaitingRequestsMax(u32),
    /// The query forgotten and its connection.
    QueryOwner(graphsession_query_plan::QueryKey, crate::client::ConnectionId),
    /// The registry's restore.
    Registry(ManagerRestore),
}

impl NodeRestore {
    /// The (user, client ip) pair whose count the corruption changed and the count it has now,
    /// which a report of the broken invariant must state ([`ManagerRestore::miscounted_pair`]).
    #[must_use]
    pub fn miscounted_pair(&self) -> Option<(&str, &str, u32)> {
        match self {
            NodeRestore::Registry(restore) => restore.miscounted_pair(),
            NodeRestore::WaitingConnectionsMax(_)
            | NodeRestore::WaitingRequestsMax(_)
            | NodeRestore::QueryOwner(..) => None,
        }
    }
}

impl GraphNode {
    /// Applies `corruption`; `None` (and nothing changed) when it does not apply to the node's
    /// state. Call [`GraphNode::undo_corruption`] with the result before any other call.
    pub fn corrupt(&mut self, corruption: NodeCorruption) -> Option<NodeRestore> {
        let per_connection_max = self.settings.waiting_requests_per_connection_max as usize;
        let slack = self.waiting.sign_outs.len().checked_mul(per_connection_max.max(1))?;
        let beyond_slack = self.waiting.connection_count().checked_sub(slack);
        let was = self.settings.waiting_connections_max;
        let limit = match corruption {
            NodeCorruption::WaitingConnectionsOverLimit => beyond_slack?.checked_sub(1)?,
            NodeCorruption::WaitingConnectionsAtLimit => beyond_slack.filter(|&n| n > 0)?,
            NodeCorruption::PickUpWaitersOverLimit | NodeCorruption::PickUpWaitersAtLimit => {
                return self.corrupt_pick_up_limit(corruption);
            }
            NodeCorruption::SignOutQueueOverLimit | NodeCorruption::SignOutQueueAtLimit => {
                return self.corrupt_sign_out_limit(corruption);
            }
            NodeCorruption::QueryUnowned => {
                let (&key, &connection) = self.running.iter().next()?;
                self.running.remove(&key);
                return Some(NodeRestore::QueryOwner(key, connection));
            }
            NodeCorruption::Registry(inner) => {
                return self.registry.corrupt(inner).map(NodeRestore::Registry);
            }
        };
        self.settings.waiting_connections_max = u32::try_from(limit).ok()?;
        Some(NodeRestore::WaitingConnectionsMax(was))
    }

    /// Undoes the corruption `restore` came from: the node is exactly as it was before.
    pub fn undo_corruption(&mut self, restore: NodeRestore) {
        match restore {
            NodeRestore::WaitingConnectionsMax(was) => self.settings.waiting_connections_max = was,
            NodeRestore::WaitingRequestsMax(was) => {
                self.settings.waiting_requests_per_connection_max = was;
            }
            NodeRestore::QueryOwner(key, connection) => {
                self.running.insert(key, connection);
            }
            NodeRestore::Registry(inner) => self.registry.undo_corruption(inner),
        }
    }

    /// The per-connection limit set just below (or at) the longest pick-up queue, where that
    /// breaks no other bound first: the sign-outs' queues and the waiting connections (whose
    /// slack the same limit sets) stay within it.
    fn corrupt_pick_up_limit(&mut self, corruption: NodeCorruption) -> Option<NodeRestore> {
        let longest = self.waiting.pick_ups.values().map(Vec::len).max()?;
        let limit = match corruption {
            NodeCorruption::PickUpWaitersOverLimit => longest.checked_sub(1)?,
            _ => longest,
        };
        let sign_outs_fit =
            self.waiting.sign_outs.values().all(|(_, queued)| queued.len() <= limit);
        let slack = self.waiting.sign_outs.len().checked_mul(limit.max(1))?;
        let waiting_max = (self.settings.waiting_connections_max as usize).checked_add(slack)?;
        if !sign_outs_fit || self.waiting.connection_count() > waiting_max {
            return None;
        }
        let was = self.settings.waiting_requests_per_connection_max;
        self.settings.waiting_requests_per_connection_max = u32::try_from(limit).ok()?;
        Some(NodeRestore::WaitingRequestsMax(was))
    }

    /// The per-connection limit set just below (or at) the longest queue behind a sign-out,
    /// where that breaks no other bound: every pick-up's queue and the waiting connections
    /// (whose slack the same limit sets) stay within it.
    fn corrupt_sign_out_limit(&mut self, corruption: NodeCorruption) -> Option<NodeRestore> {
        let longest = (self.waiting.sign_outs.values()).map(|(_, queued)| queued.len()).max()?;
        let limit = match corruption {
            NodeCorruption::SignOutQueueOverLimit => longest.checked_sub(1)?,
            _ => Some(longest).filter(|&queued| queued > 0)?,
        };
        let pick_ups_fit = self.waiting.pick_ups.values().all(|waiting| waiting.len() <= limit);
        let slack = self.waiting.sign_outs.len().checked_mul(limit.max(1))?;
        let waiting_max = (self.settings.waiting_connections_max as usize).checked_add(slack)?;
        if !pick_ups_fit || self.waiting.connection_count() > waiting_max {
            return None;
        }
        let was = self.settings.waiting_requests_per_connection_max;
        self.settings.waiting_requests_per_connection_max = u32::try_from(limit).ok()?;
        Some(NodeRestore::WaitingRequestsMax(was))
    }
}
