//! Idle expiry across nodes under message loss, duplication, delay and reordering (fix 3 and
//! NebulaGraph issue 5094, see docs/fixes.md). A session is shared by three nodes and touched on
//! random nodes at random gaps.
//! Safety, checked at every step: meta expires it only after a stretch of at least the idle
//! timeout with no activity on any node (a session used somewhere at least once per timeout is
//! never expired). Liveness: once the network heals and nobody uses it, it expires everywhere.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{Cluster, Faults, fast_meta_config, fast_node_config, sid};
use graphsession_core::cluster::{GoneReason, MetaConfig, NodeConfig};
use proptest::prelude::*;

const TICK_MS: u64 = 10;
const IDLE_TIMEOUT_MS: u64 = 2_000;

/// A cluster whose three nodes hold session 1; returns it and the login time.
fn cluster(seed: u64) -> (Cluster, u64) {
    let meta = MetaConfig {
        idle_timeout_ms: IDLE_TIMEOUT_MS,
        holder_silence_ms: 1_000_000_000,
        ..fast_meta_config()
    };
    let node = NodeConfig {
        idle_timeout_ms: IDLE_TIMEOUT_MS,
        sync_interval_ms: 500,
        ..fast_node_config()
    };
    let mut cluster = Cluster::new(3, meta, node, seed);
    cluster.run(50, TICK_MS);
    let login_at = cluster.now;
    cluster.nodes[0].local.login(sid(1), "alice", login_at);
    cluster.nodes[0].sync.announce(login_at, sid(1)).unwrap();
    cluster.run(50, TICK_MS);
    for node in 1..3 {
        cluster.nodes[node].sync.pick_up(cluster.now, sid(1)).unwrap();
    }
    cluster.run(50, TICK_MS);
    for node in 0..3 {
        assert!(cluster.nodes[node].local.sessions.contains_key(&sid(1)));
    }
    (cluster, login_at)
}

/// Whether `activity` (sorted) leaves a stretch of the idle timeout before `now`.
fn idle_stretch_before(activity: &[u64], now: u64) -> bool {
    let gaps = activity.windows(2).any(|pair| pair[1] - pair[0] >= IDLE_TIMEOUT_MS);
    gaps || activity.last().is_some_and(|last| now - last >= IDLE_TIMEOUT_MS)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_session_is_expired_only_after_being_idle_everywhere_for_the_timeout(
        touches in proptest::collection::vec((0..3_usize, 0..2_600_u64), 1..40),
        seed in any::<u64>(),
        loss_percent in 0..35_u64,
        duplicate_percent in 0..35_u64,
        delay_max_ms in 0..300_u64,
    ) {
        let (mut cluster, login_at) = cluster(seed);
        let mut activity = vec![login_at];
        cluster.faults = Faults { loss_percent, duplicate_percent, delay_max_ms };
        let mut expired = false;
        for (node, gap_ms) in touches {
            let until = cluster.now + gap_ms;
            while cluster.now < until && !expired {
                cluster.run(TICK_MS, TICK_MS);
                if cluster.meta.gone_reason(sid(1)) == Some(GoneReason::Expired) {
                    prop_assert!(idle_stretch_before(&activity, cluster.now), "{activity:?}");
                    expired = true;
                }
            }
            if expired {
                break;
            }
            let now = cluster.now;
            if cluster.nodes[node].local.touch(sid(1), now) {
                activity.push(now);
            }
        }
        // Nobody uses it any more and the network heals: it expires on every node.
        cluster.faults = Faults::NONE;
        cluster.run(IDLE_TIMEOUT_MS + 3_000, TICK_MS);
        prop_assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Expired));
        for node in 0..3 {
            prop_assert!(!cluster.nodes[node].local.sessions.contains_key(&sid(1)));
        }
    }
}
