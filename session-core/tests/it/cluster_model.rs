//! Cluster sync against a reference model of the whole cluster: one map of sessions with
//! instant propagation. Proptest drives three nodes and the meta store with random logins,
//! touches, USEs, pick-ups, queries, sign-outs, KILL SESSION, KILL QUERY, copies ended by a
//! node's own registry and logins issuing an id another node gave out (to be refused) on random
//! nodes,
//! over a network that loses, duplicates, delays and reorders messages; then the network heals.
//! After healing: the same live sessions as the model, every node's sessions among them, every
//! holder on the model's space and with meta's user (no refused clash kept), no id registered
//! twice, no session ever resurrected at meta (checked after every step),
//! every kill applied to a query that was named by a KILL QUERY or whose session the model
//! removed, and every query the model killed stopped. Invariants are checked after every step.
//!
//! Idle expiry is not exercised here (the idle timeout exceeds the run): the model propagates
//! instantly, so its expiry moments differ from the cluster's by design. Expiry has its own named
//! tests in `cluster_behaviour.rs`.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

// The model names its helpers `super::cluster_support`.
use crate::cluster_support;
#[path = "../cluster_support/model.rs"]
mod model;

use crate::cluster_support::Faults;
use model::{NODES, Op, SPACES, run_case};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    let pick = 0..64_usize;
    prop_oneof![
        3 => node.clone().prop_map(|node| Op::Login { node }),
        2 => (node.clone(), pick.clone()).prop_map(|(node, session)| Op::Touch { node, session }),
        3 => (node.clone(), pick.clone(), 0..SPACES.len())
            .prop_map(|(node, session, space)| Op::Use { node, session, space }),
        3 => (node.clone(), pick.clone()).prop_map(|(node, session)| Op::PickUp { node, session }),
        3 => (node.clone(), pick.clone()).prop_map(|(node, session)| Op::Begin { node, session }),
        2 => pick.clone().prop_map(|query| Op::Finish { query }),
        1 => (node.clone(), pick.clone()).prop_map(|(node, session)| Op::SignOut { node, session }),
        1 => (node.clone(), pick.clone())
            .prop_map(|(node, session)| Op::KillSession { node, session }),
        2 => (node.clone(), pick.clone()).prop_map(|(node, query)| Op::KillQuery { node, query }),
        1 => (node.clone(), pick.clone())
            .prop_map(|(node, session)| Op::Forget { node, session }),
        1 => (node, pick).prop_map(|(node, session)| Op::Clash { node, session }),
        3 => (1..1_500_u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn cluster_matches_the_model_once_the_network_heals(
        ops in proptest::collection::vec(op(), 1..60),
        seed in any::<u64>(),
        loss_percent in 0..35_u64,
        duplicate_percent in 0..35_u64,
        delay_max_ms in 0..700_u64,
    ) {
        run_case(&ops, seed, Faults { loss_percent, duplicate_percent, delay_max_ms });
    }
}
