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
    /// `waiting_requests_per_connection_max` one below the most executes waiting for meta's
    /// confirmation of one restored session (needs one waiting; no other queue may be longer
    /// than the new limit).
    ConfirmationWaitersOverLimit,
    /// `waiting_requests_per_connection_max` met exactly by the most executes waiting for one
    /// confirmation: sound.
    ConfirmationWaitersAtLimit,
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
            NodeCorruption::ConfirmationWaitersOverLimit,
            NodeCorruption::ConfirmationWaitersAtLimit,
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
            NodeCorruption::ConfirmationWaitersOverLimit => {
                Some("confirmation_waiters_within_limit")
            }
            NodeCorruption::SignOutQueueOverLimit => Some("requests_behind_sign_out_within_limit"),
            NodeCorruption::QueryUnowned => Some("every_query_owned"),
            NodeCorruption::WaitingConnectionsAtLimit
            | NodeCorruption::PickUpWaitersAtLimit
            | NodeCorruption::ConfirmationWaitersAtLimit
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
                return self.corrupt_queue_limit(Queue::PickUps, corruption);
            }
            NodeCorruption::ConfirmationWaitersOverLimit
            | NodeCorruption::ConfirmationWaitersAtLimit => {
                return self.corrupt_queue_limit(Queue::Confirmations, corruption);
            }
            NodeCorruption::SignOutQueueOverLimit | NodeCorruption::SignOutQueueAtLimit => {
                return self.corrupt_queue_limit(Queue::SignOuts, corruption);
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

    /// The per-connection limit set just below (or at) the longest queue of kind `queue`
    /// (for the queue behind a sign-out, one that holds a request), where that breaks no other
    /// bound first: the other kinds' queues and the waiting connections (whose slack the same
    /// limit sets) stay within it.
    fn corrupt_queue_limit(
        &mut self,
        queue: Queue,
        corruption: NodeCorruption,
    ) -> Option<NodeRestore> {
        let longest = self.queue_lengths(queue).max()?;
        let over = matches!(
            corruption,
            NodeCorruption::PickUpWaitersOverLimit
                | NodeCorruption::ConfirmationWaitersOverLimit
                | NodeCorruption::SignOutQueueOverLimit
        );
        let limit =
            if over { longest.checked_sub(1)? } else { Some(longest).filter(|&n| n > 0)? };
        let others_fit = [Queue::PickUps, Queue::Confirmations, Queue::SignOuts]
            .into_iter()
            .filter(|&other| other != queue)
            .all(|other| self.queue_lengths(other).all(|len| len <= limit));
        let slack = self.waiting.sign_outs.len().checked_mul(limit.max(1))?;
        let waiting_max = (self.settings.waiting_connections_max as usize).checked_add(slack)?;
        if !others_fit || self.waiting.connection_count() > waiting_max {
            return None;
        }
        let was = self.settings.waiting_requests_per_connection_max;
        self.settings.waiting_requests_per_connection_max = u32::try_from(limit).ok()?;
        Some(NodeRestore::WaitingRequestsMax(was))
    }

    fn queue_lengths(&self, queue: Queue) -> Box<dyn Iterator<Item = usize> + '_> {
        match queue {
            Queue::PickUps => Box::new(self.waiting.pick_ups.values().map(Vec::len)),
            Queue::Confirmations => Box::new(self.waiting.confirmations.values().map(Vec::len)),
            Queue::SignOuts => Box::new(self.waiting.sign_outs.values().map(|(_, q)| q.len())),
        }
    }

    /// Test only: the node trusts the snapshot it was restored from and serves its sessions
    /// before meta confirmed them, as it did before [`GraphNode::restore`] waited for meta. A
    /// simulator's restored-zombie oracle must catch it; it breaks no invariant.
    pub fn trust_restored_sessions(&mut self) {
        self.sync.unconfirmed.clear();
    }
}

/// The per-connection queues that `waiting_requests_per_connection_max` bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    PickUps,
    Confirmations,
    SignOuts,
}
