//! Benchmarks of the hot paths: register + finish, the executor's checkpoint (target: at most 2
//! ns), and `handle_timeout` with 100,000 running queries of which 1% expire per call.
//!
//! Run: `cargo bench -p graphsession-query-plan --bench registry`. On a shared machine compare
//! runs of two builds alternated, and count instructions with session-core's
//! `instruction_counts` example (`query` runs this bench's register + finish under callgrind).
//! Figures of 2026-12-06 (2-core shared AMD EPYC, load average 10 to 15): register + finish
//! costs 637 instructions (804 before the hot helpers were inlined and the plan list searched
//! newest first), 2,665 with ordered maps, a `BTreeSet` of deadlines and two allocations
//! per query (3,550 before that, with a check and then the operation on each map); wall times,
//! alternated with the build before (380 to 450 ns at load 14 to 17, half of that build's; 102 to
//! 184 ns at load 4, against 222 to 395 ns; target 150 ns), and the commands are in
//! docs/benchmarks-history.md.

use criterion::{Criterion, criterion_group, criterion_main};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{Config, QueryRegistry, Registration};
use std::hint::black_box;
use std::time::Duration;

const T0_US: u64 = 1_763_900_000_000_000;
const SESSIONS: u32 = 1_000;
const RUNNING: u64 = 100_000;
const EXPIRING_PER_CALL: u64 = RUNNING / 100;
const STATEMENT: &str = "GO FROM \"player100\" OVER follow YIELD dst(edge)";

fn config() -> Config {
    Config { queries_per_node_max: 200_000, ..Config::default() }
}

fn session(index: u64) -> SessionId {
    let index = i64::try_from(index % u64::from(SESSIONS)).expect("below SESSIONS");
    SessionId::new(1 + index).expect("positive")
}

fn with_sessions() -> QueryRegistry {
    let mut registry = QueryRegistry::new(config());
    for index in 0..u64::from(SESSIONS) {
        registry.open_session(session(index), "bench", "graphd:9669").expect("below sessions_max");
    }
    registry
}

fn register(
    registry: &mut QueryRegistry,
    counter: u64,
    deadline_unix_us: Option<u64>,
    now_unix_us: u64,
) {
    let registration = Registration {
        session: session(counter),
        plan: PlanId::from_u64(counter),
        statement: STATEMENT,
        deadline_unix_us,
    };
    drop(registry.register(now_unix_us, registration).expect("below the limits"));
}

/// One query's whole life in the registry, with 10,000 others running (each with a deadline).
fn register_finish(c: &mut Criterion) {
    let mut registry = with_sessions();
    for counter in 0..10_000 {
        register(&mut registry, counter, Some(T0_US + 60_000_000), T0_US);
    }
    let mut counter = 1_000_000_u64;
    c.bench_function("register+finish (10k running, with deadline)", |b| {
        b.iter(|| {
            counter += 1;
            register(&mut registry, counter, Some(T0_US + 30_000_000), T0_US);
            black_box(
                registry.finish(session(counter), PlanId::from_u64(counter)).expect("registered"),
            );
        });
    });
}

/// The executor's checkpoint on a running query.
fn checkpoint(c: &mut Criterion) {
    let mut registry = with_sessions();
    let registration = Registration {
        session: session(0),
        plan: PlanId::from_u64(1),
        statement: "q",
        deadline_unix_us: None,
    };
    let handle = registry.register(T0_US, registration).expect("below the limits");
    c.bench_function("checkpoint (QueryHandle::check)", |b| {
        b.iter(|| black_box(black_box(&handle).check()));
    });
}

/// 100,000 running queries with deadlines 1 µs apart; each call advances the clock so that the
/// earliest 1% (1,000) expire. Only `handle_timeout` is timed; after it, untimed, the expired
/// queries are finished and as many new ones registered at the far end, so every call sees 100,000
/// running queries.
#[expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a benchmark edge: wall time around the measured call only, so the refill is untimed"
)]
fn timeouts(c: &mut Criterion) {
    let mut registry = with_sessions();
    for counter in 0..RUNNING {
        register(&mut registry, counter, Some(T0_US + counter), T0_US);
    }
    let mut oldest_counter = 0_u64;
    let mut now_unix_us = T0_US - 1;
    let mut group = c.benchmark_group("timeouts");
    group.sample_size(10).warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_millis(500));
    group.bench_function("handle_timeout (100k running, 1% expire)", |b| {
        b.iter_custom(|iterations| {
            let mut measured = Duration::ZERO;
            for _ in 0..iterations {
                now_unix_us += EXPIRING_PER_CALL;
                let start = std::time::Instant::now();
                let fired = registry.handle_timeout(black_box(now_unix_us));
                measured += start.elapsed();
                assert_eq!(u64::from(fired), EXPIRING_PER_CALL);
                for _ in 0..EXPIRING_PER_CALL {
                    let finished =
                        registry.finish(session(oldest_counter), PlanId::from_u64(oldest_counter));
                    drop(finished.expect("registered"));
                    let counter = oldest_counter + RUNNING;
                    register(&mut registry, counter, Some(T0_US + counter), now_unix_us);
                    oldest_counter += 1;
                }
            }
            measured
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = register_finish, checkpoint, timeouts
}
criterion_main!(benches);
