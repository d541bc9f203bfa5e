//! The local session budget per (user, client ip, graph node).
//!
//! NebulaGraph refuses a login past 300 sessions per (user, ip) on a node with -1002, and a client that
//! retries in a loop turns that into a storm (failure mode 14). The budget stops the client before the
//! server has to: it counts every session the server may still hold for this key (held, awaiting
//! sign-out, overflowed, and authenticates whose reply was lost) and refuses to authenticate at its
//! maximum, which must be below the server's limit.

use crate::client::config::ClientConfig;
use serde::{Deserialize, Serialize};

/// What the budget is counted for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BudgetKey {
    /// The user.
    pub user: String,
    /// The client's address as the server sees it.
    pub client_ip: String,
    /// The graph node.
    pub node: String,
}

/// The budget of one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    key: BudgetKey,
    max: u32,
}

/// Authenticating now would exceed the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget {
    pub(crate) count: u32,
    pub(crate) max: u32,
}

impl Budget {
    pub(crate) fn new(config: &ClientConfig) -> Budget {
        let key = BudgetKey {
            user: config.user.clone(),
            client_ip: config.client_ip.clone(),
            node: config.node.clone(),
        };
        Budget { key, max: config.sessions_per_user_ip_node_max }
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &BudgetKey {
        &self.key
    }

    /// The maximum.
    #[must_use]
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Whether one more session fits next to `count` counted ones.
    pub(crate) fn admit(&self, count: u32) -> Result<(), OverBudget> {
        if count >= self.max {
            return Err(OverBudget { count, max: self.max });
        }
        Ok(())
    }
}
