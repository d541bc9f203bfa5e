//! One module per target, each with `pub fn run(data: &[u8])`, and the decoding helpers they
//! share.

use arbitrary::{Result, Unstructured};

/// The client tests' support: harnesses, a scripted server and the machine and pool models,
/// shared by `client_machine` and `client_pool`.
#[path = "../../../session-core/tests/client_support/mod.rs"]
mod client_support;

/// The cluster tests' support: an in-memory node registry and a simulated cluster over a faulty
/// network, shared by `cluster` (with the cluster model) and `messages_decode`.
#[path = "../../../session-core/tests/cluster_support/mod.rs"]
mod cluster_support;

/// The graph node tests' support: meta, one to three `GraphNode`s, a transport held until told,
/// the executor stub and every invariant checked at each output (the `graph_node` target).
#[path = "../../../session-core/tests/node_support/mod.rs"]
mod node_support;

pub mod catalog_turns;
pub mod client_machine;
pub mod client_pool;
pub mod cluster;
pub mod graph_node;
pub mod id_gen;
pub mod messages_decode;
pub mod meta_persist_decode;
pub mod meta_store;
pub mod permission;
pub mod query_registry;
pub mod session_manager;
pub mod sim_world;
pub mod snapshot_decode;
pub mod wire_decode;
pub mod wire_reply_decode;

/// Decodes up to `max` items with `item` until the bytes run out: a bounded operation list. An
/// item that cannot be decoded ends the list (the fuzzer's bytes are simply used up).
pub(crate) fn list<'a, T>(
    u: &mut Unstructured<'a>,
    max: usize,
    mut item: impl FnMut(&mut Unstructured<'a>) -> Result<T>,
) -> Vec<T> {
    let mut items = Vec::new();
    while items.len() < max && !u.is_empty() {
        match item(u) {
            Ok(value) => items.push(value),
            Err(_) => break,
        }
    }
    items
}

/// An index below `len` (0 when the bytes are used up).
pub(crate) fn index(u: &mut Unstructured<'_>, len: usize) -> Result<usize> {
    u.choose_index(len)
}

/// A value in `range` (its start when the bytes are used up).
pub(crate) fn within<T>(u: &mut Unstructured<'_>, range: std::ops::RangeInclusive<T>) -> Result<T>
where
    T: arbitrary::unstructured::Int,
{
    u.int_in_range(range)
}

/// An index into `weights`, each chosen in proportion to its weight, like proptest's
/// `prop_oneof!` weights, so that the common operations stay common.
pub(crate) fn weighted(u: &mut Unstructured<'_>, weights: &[u32]) -> Result<usize> {
    let total: u32 = weights.iter().sum();
    let mut pick = u.int_in_range(0..=total.saturating_sub(1))?;
    for (choice, &weight) in weights.iter().enumerate() {
        if pick < weight {
            return Ok(choice);
        }
        pick -= weight;
    }
    Ok(weights.len().saturating_sub(1))
}
