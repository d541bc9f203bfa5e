//! Cost of one id: ours (unsealed, sealed, JS-safe, plan id) beside the naive generator an engine would
//! write first, and the `ulid` and `uuid` v7 crates, on one thread and on two threads sharing a generator.
//!
//! Ours and the naive baseline are given a synthetic clock that advances one millisecond every 1,024 ids
//! (16 for JS-safe, its sequence capacity), so the benchmark measures issuing, not reading a clock. The peers
//! read the system clock and the thread's random generator themselves, as they are used in practice.
//!
//! Run: `cargo bench -p graphsession-id-gen --bench ids`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use graphsession_id_gen::{
    Layout, PLAN_COUNTER_BITS, PlanIdGenerator, PlanLease, SealKey, SessionIdConfig,
    SessionIdGenerator, SessionLease,
};

const START_UNIX_MS: u64 = 1_760_000_000_000;
const KEY: SealKey = SealKey::from_bytes(*b"benchmark key 16");

/// The generator the issue calls naive: the millisecond clock with its low 16 bits replaced by a counter.
/// It collides above ~1,000 ids/s, after every restart, across nodes and after a clock step back.
struct NaiveGenerator {
    counter: AtomicU64,
}

impl NaiveGenerator {
    #[inline]
    fn next(&self, now_ms: u64) -> u64 {
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        (now_ms & 0xFFFF_FFFF_FFFF_0000) | (counter & 0xFFFF)
    }
}

fn lease() -> SessionLease {
    SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: Layout::SESSION.last_unix_ms() }
}

fn sealed() -> SessionIdGenerator {
    SessionIdGenerator::new(lease(), KEY, SessionIdConfig::default()).expect("valid lease")
}

fn unsealed() -> SessionIdGenerator {
    SessionIdGenerator::unsealed(lease(), SessionIdConfig::default()).expect("valid lease")
}

fn js_safe() -> SessionIdGenerator {
    let config = SessionIdConfig { layout: Layout::JS_SAFE, ..SessionIdConfig::default() };
    SessionIdGenerator::new(lease(), KEY, config).expect("valid lease")
}

fn plans() -> PlanIdGenerator {
    PlanIdGenerator::new(PlanLease {
        slot: 1,
        floor_counter: 0,
        bound_counter: 1 << PLAN_COUNTER_BITS,
    })
    .expect("valid lease")
}

/// A synthetic clock: `ids_per_ms_log2` ids per millisecond, continuing across calls of one benchmark.
struct FakeClock {
    tick: u64,
    ids_per_ms_log2: u32,
}

impl FakeClock {
    fn new(ids_per_ms_log2: u32) -> FakeClock {
        FakeClock { tick: 0, ids_per_ms_log2 }
    }

    #[inline]
    fn now_unix_ms(&mut self) -> u64 {
        self.tick += 1;
        START_UNIX_MS + (self.tick >> self.ids_per_ms_log2)
    }
}

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_one_thread");
    let generator = unsealed();
    let mut clock = FakeClock::new(10);
    group.bench_function("session_unsealed", |b| {
        b.iter(|| generator.next(black_box(clock.now_unix_ms())).expect("id"))
    });
    let generator = sealed();
    let mut clock = FakeClock::new(10);
    group.bench_function("session_sealed", |b| {
        b.iter(|| generator.next(black_box(clock.now_unix_ms())).expect("id"))
    });
    let generator = js_safe();
    let mut clock = FakeClock::new(4);
    group.bench_function("session_js_safe_sealed", |b| {
        b.iter(|| generator.next(black_box(clock.now_unix_ms())).expect("id"))
    });
    let generator = plans();
    group.bench_function("plan_id", |b| b.iter(|| generator.next().expect("plan id")));
    let naive = NaiveGenerator { counter: AtomicU64::new(0) };
    let mut clock = FakeClock::new(10);
    group.bench_function("naive_baseline", |b| {
        b.iter(|| naive.next(black_box(clock.now_unix_ms())))
    });
    group.bench_function("ulid_crate", |b| b.iter(ulid::Ulid::new));
    group.bench_function("uuid_v7_crate", |b| b.iter(uuid::Uuid::now_v7));
    group.finish();
}

/// Issues `iters` ids split over two threads sharing one generator; returns the wall time. Each thread
/// keeps its own synthetic clock, continuing from `clock_base` so time never restarts between calls.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark is a host: it spawns threads and reads time"
)]
#[expect(clippy::disallowed_types, reason = "a benchmark is a host: it reads time")]
fn two_threads(iters: u64, clock_base: &mut u64, issue: &(impl Fn(u64) + Sync)) -> Duration {
    let per_thread = iters.div_ceil(2);
    let base = *clock_base;
    *clock_base += per_thread;
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(move || {
                for tick in base..base + per_thread {
                    issue(tick);
                }
            });
        }
    });
    start.elapsed()
}

fn shared_by_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_two_threads");
    let clock = |tick: u64| START_UNIX_MS + (tick >> 10);
    // Each thread has its own synthetic clock; when the scheduler runs one thread's whole share before the
    // other starts, the late thread's clock lags and it legitimately borrows from the future. A one-hour
    // look-ahead keeps that from turning into backpressure, which is not what this measures.
    let config = SessionIdConfig { lookahead_max_ms: 3_600_000, ..SessionIdConfig::default() };
    let shared_unsealed = SessionIdGenerator::unsealed(lease(), config).expect("valid lease");
    let shared_sealed = SessionIdGenerator::new(lease(), KEY, config).expect("valid lease");
    for (name, generator) in
        [("session_unsealed", shared_unsealed), ("session_sealed", shared_sealed)]
    {
        let mut clock_base = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                two_threads(iters, &mut clock_base, &|tick| {
                    black_box(generator.next(clock(tick)).expect("id"));
                })
            })
        });
    }
    let generator = plans();
    let mut clock_base = 0;
    group.bench_function("plan_id", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &mut clock_base, &|_| {
                black_box(generator.next().expect("plan id"));
            })
        })
    });
    let naive = NaiveGenerator { counter: AtomicU64::new(0) };
    let mut clock_base = 0;
    group.bench_function("naive_baseline", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &mut clock_base, &|tick| {
                black_box(naive.next(clock(tick)));
            })
        })
    });
    let mut clock_base = 0;
    group.bench_function("ulid_crate", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &mut clock_base, &|_| {
                black_box(ulid::Ulid::new());
            })
        })
    });
    let mut clock_base = 0;
    group.bench_function("uuid_v7_crate", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &mut clock_base, &|_| {
                black_box(uuid::Uuid::now_v7());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, one_thread, shared_by_two_threads);
criterion_main!(benches);
