//! The server registry against (a) the seed plan's design, a `Mutex<HashMap<i64, Session>>` with a
//! full-scan reclaim, written here as the baseline, and (b) `moka`'s sync cache with time-to-idle:
//! find + touch at 10k, 100k and 1M sessions on 1 and 2 threads, login + sign-out, a reclaim
//! round at 1M sessions with none and 1% expiring, and resident bytes per session.
//!
//! Run: `cargo bench -p graphsession-core --bench server_registry -- --warm-up-time 1
//! --measurement-time 2`. The machine is shared: treat the numbers as indicative, compare ours
//! with the baseline of the same run, and count instructions (load-independent) with the
//! `instruction_counts` example under callgrind (its docs give the command).
//!
//! `floor_one_random_miss` (find + touch only) is this machine's floor: one probe of a flat
//! open-addressing table of 16-byte slots and one compare-and-swap, nothing else. At 1M sessions
//! nearly every probe misses the caches, so find + touch cannot be much cheaper than it.
//!
//! Between the floor and the registry, find + touch has a ladder of rungs (the `floors` module,
//! `support/floors.rs`), each adding one of the registry's differences to the one before:
//! `floor_sealed_ids` (the floor holding the registry's sealed ids, visited in the registry's
//! order), `floor_shards_one_allocation` (64 shards picked as the registry picks them, one
//! allocation), `floor_shards` (the same code, each shard its own allocation),
//! `floor_blocks_one_allocation` (the registry's slot-table header reads and block arithmetic,
//! the blocks carved out of one allocation per shard) and `floor_blocks` (the same, each block
//! its own allocation as the shard grows, the registry's layout). Only the registry's clock, id
//! check, tag, frozen bit and key re-read lie between `floor_blocks` and `registry`. Run the
//! ladder alone with `cargo bench -p graphsession-core --bench server_registry --
//! 'find_touch/1t/(registry|floor.*)/1000000$' --warm-up-time 1 --measurement-time 3`.
//!
//! Figures of 2026-12-07 (2-core AMD EPYC; details and commands in docs/benchmarks-history.md):
//! login + sign-out costs 2,751 instructions and 17 locked instructions against the baseline's
//! 1,677 and 4 (1.64x; with unsealed ids 2,387, 1.42x), and in wall time 1.78x the baseline of
//! the same run in `cargo xtask bench` (unsealed 1.53x; the example's loop: about 2.0x and 1.7x). With every line hot (one shard, one client ip) it is still
//! 1.8x (unsealed 1.55x): the seal is about 0.3x of the baseline, the cold state of 64 shards and
//! 1,750 clients about 0.2x, and the rest is the checks the baseline does not make. Find + touch at
//! 1M sessions, one thread: 129.5 instructions per touch against the floor's 54.6; the ladder of
//! rungs (05:15-05:40 UTC, docs/benchmarks-history.md) puts the gap in the path: not the allocation
//! layout, huge pages, the hash or the order of visits, but the shard and table header reads and the
//! registry's checks, each instruction of which costs about half a nanosecond at 1M sessions (the
//! out-of-order window holds fewer touches' misses).
#![allow(clippy::unwrap_used, reason = "bench setup: a failed unwrap is a failed bench")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};

#[path = "support/floors.rs"]
mod floors;
#[path = "support/shuffle.rs"]
mod shuffle;

use floors::{Floor, FloorBlocks, FloorShards};

const START_MS: u64 = 1_763_900_000_000;
const IDLE_MS: u64 = 28_800_000;
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// The seed plan's sketch: one lock around one map, and a reclaim that scans it all.
struct Baseline {
    sessions: Mutex<HashMap<i64, BaselineSession>>,
    next_id: AtomicU64,
}

#[expect(dead_code, reason = "the fields a session carries, as in the seed plan")]
struct BaselineSession {
    user: String,
    client_ip: String,
    space: String,
    created_ms: u64,
    last_ms: u64,
}

impl Baseline {
    #[expect(clippy::disallowed_methods, reason = "the seed plan's std HashMap, as written")]
    fn new() -> Baseline {
        Baseline { sessions: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }
    }

    fn login(&self, user: &str, client_ip: &str, now: u64) -> i64 {
        let id = i64::try_from(self.next_id.fetch_add(1, Ordering::Relaxed)).unwrap();
        let session = BaselineSession {
            user: user.to_owned(),
            client_ip: client_ip.to_owned(),
            space: String::new(),
            created_ms: now,
            last_ms: now,
        };
        self.sessions.lock().unwrap().insert(id, session);
        id
    }

    fn touch(&self, id: i64, now: u64) -> bool {
        let mut sessions = self.sessions.lock().unwrap();
        sessions.get_mut(&id).map(|session| session.last_ms = now).is_some()
    }

    fn sign_out(&self, id: i64) {
        self.sessions.lock().unwrap().remove(&id);
    }

    fn reclaim(&self, now: u64) -> usize {
        let mut sessions = self.sessions.lock().unwrap();
        let before = sessions.len();
        sessions.retain(|_, session| session.last_ms + IDLE_MS > now);
        before - sessions.len()
    }
}

/// A fixed hasher for moka, so no OS-seeded state enters the bench.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = graphsession_base::Fnv1a::resume(self.0);
        hash.bytes(bytes);
        self.0 = hash.finish();
    }
    fn write_i64(&mut self, value: i64) {
        let product = u128::from(value.unsigned_abs()) * 0x9E37_79B9_7F4A_7C15;
        self.0 = u64::try_from(product & u128::from(u64::MAX)).unwrap()
            ^ u64::try_from(product >> 64).unwrap();
    }
}

#[expect(dead_code, reason = "the fields a session carries")]
struct MokaSession {
    user: String,
    client_ip: String,
    created_ms: u64,
    last_ms: AtomicU64,
}

type Moka = moka::sync::Cache<i64, Arc<MokaSession>, BuildHasherDefault<Fnv>>;

fn moka() -> Moka {
    moka::sync::Cache::builder()
        .time_to_idle(Duration::from_millis(IDLE_MS))
        .build_with_hasher(BuildHasherDefault::default())
}

fn moka_login(cache: &Moka, id: i64, now: u64) {
    let session = MokaSession {
        user: "alice".to_owned(),
        client_ip: ip(id),
        created_ms: now,
        last_ms: AtomicU64::new(now),
    };
    cache.insert(id, Arc::new(session));
}

fn moka_touch(cache: &Moka, id: i64, now: u64) -> bool {
    cache.get(&id).map(|session| session.last_ms.store(now, Ordering::Relaxed)).is_some()
}

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::OPEN, "alice").unwrap();
    table.grant(&root, Policy::OPEN, Role::User, "nba", "alice").unwrap();
    table
}

const LEASE: SessionLease =
    SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };

/// The registry with sealed session ids (the default).
fn registry() -> SessionManager {
    let ids =
        SessionIdGenerator::new(LEASE, SealKey::from_bytes([3; 16]), SessionIdConfig::default());
    registry_with(ids.unwrap())
}

/// The registry with unsealed (time-ordered, guessable) session ids: the same checks, without
/// the seal's four SipHash rounds, so the login table shows what the seal costs.
fn registry_unsealed() -> SessionManager {
    registry_with(SessionIdGenerator::unsealed(LEASE, SessionIdConfig::default()).unwrap())
}

fn registry_with(ids: SessionIdGenerator) -> SessionManager {
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 9, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config { sessions_per_user_ip_max: 0, events_max: 1, ..Config::default() };
    SessionManager::new(config, ids, plans.unwrap()).unwrap()
}

/// 250 client ips, so (user, ip) counts stay small as in production.
fn ip(index: i64) -> String {
    format!("10.0.{}.{}", index % 250, index % 7)
}

fn registry_login(registry: &SessionManager, table: &RoleTable, index: i64, now: u64) -> i64 {
    let client_ip = ip(index);
    let login = Login { user: "alice", client_ip: &client_ip, password: PasswordCheck::Verified };
    registry.login(now, login, table).unwrap().get()
}

/// A deterministic shuffled visiting order over `ids`.
fn order(ids: &[i64]) -> Vec<i64> {
    shuffle::shuffled(ids.to_vec())
}

/// Runs `touch` over `order` on `threads` threads, `iters` times each; the wall time.
#[expect(clippy::disallowed_methods, reason = "a bench measures wall time on real threads")]
#[expect(clippy::disallowed_types, reason = "a bench measures wall time")]
fn run_threads(
    threads: usize,
    iters: u64,
    order: &[i64],
    touch: &(dyn Fn(i64, u64) + Sync),
) -> Duration {
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                let offset = thread * order.len() / threads;
                for step in 0..iters {
                    let index = (offset + usize::try_from(step).unwrap()) % order.len();
                    // The clock advances a millisecond every 1,024 requests.
                    touch(order[index], START_MS + IDLE_MS + (step >> 10));
                }
            });
        }
    });
    start.elapsed()
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// One rung of the ladder from the floor to the registry (see `floors`), visiting the
/// registry's ids in the registry's order.
fn rung(
    group: &mut Group<'_>,
    (name, size, threads): (&str, usize, usize),
    order: &[i64],
    touch: impl Fn(u64, u64) -> bool + Sync,
) {
    group.bench_function(BenchmarkId::new(name, size), |b| {
        let touch = |id: i64, now| {
            black_box(touch(id.unsigned_abs(), now));
        };
        b.iter_custom(|iters| run_threads(threads, iters, order, &touch));
    });
}

/// The rungs between the floor and the registry, holding the registry's ids.
struct Ladder {
    sealed: Floor,
    shards_one: FloorShards,
    shards: FloorShards,
    blocks_one: FloorBlocks,
    blocks: FloorBlocks,
}

impl Ladder {
    fn new(registry_ids: &[i64]) -> Ladder {
        let keys: Vec<u64> = registry_ids.iter().map(|id| id.unsigned_abs()).collect();
        let ladder = Ladder {
            sealed: Floor::new(keys.len()),
            shards_one: FloorShards::new(&keys, true),
            shards: FloorShards::new(&keys, false),
            blocks_one: FloorBlocks::new(&keys, true),
            blocks: FloorBlocks::new(&keys, false),
        };
        for &key in &keys {
            ladder.sealed.insert(key, START_MS);
            ladder.shards_one.insert(key, START_MS);
            ladder.shards.insert(key, START_MS);
            ladder.blocks_one.insert(key, START_MS);
            ladder.blocks.insert(key, START_MS);
        }
        ladder
    }

    fn bench(&self, group: &mut Group<'_>, size: usize, threads: usize, order: &[i64]) {
        let id = |name| (name, size, threads);
        rung(group, id("floor_sealed_ids"), order, |key, now| self.sealed.touch(key, now));
        let shards_one = |key, now| self.shards_one.touch(key, now);
        rung(group, id("floor_shards_one_allocation"), order, shards_one);
        rung(group, id("floor_shards"), order, |key, now| self.shards.touch(key, now));
        let blocks_one = |key, now| self.blocks_one.touch(key, now);
        rung(group, id("floor_blocks_one_allocation"), order, blocks_one);
        rung(group, id("floor_blocks"), order, |key, now| self.blocks.touch(key, now));
    }
}

fn find_touch(c: &mut Criterion) {
    let table = table();
    for size in SIZES {
        let registry = registry();
        let baseline = Baseline::new();
        let cache = moka();
        let mut registry_ids = Vec::with_capacity(size);
        let mut baseline_ids = Vec::with_capacity(size);
        for index in 0..i64::try_from(size).unwrap() {
            registry_ids.push(registry_login(&registry, &table, index, START_MS));
            baseline_ids.push(baseline.login("alice", &ip(index), START_MS));
            moka_login(&cache, index + 1, START_MS);
        }
        cache.run_pending_tasks();
        let floor = Floor::new(size);
        for &id in &baseline_ids {
            floor.insert(id.unsigned_abs(), START_MS);
        }
        let ladder = Ladder::new(&registry_ids);
        let registry_order = order(&registry_ids);
        let baseline_order = order(&baseline_ids);
        for threads in [1_usize, 2] {
            let mut group = c.benchmark_group(format!("find_touch/{threads}t"));
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(BenchmarkId::new("registry", size), |b| {
                let touch = |id, now| {
                    let _ = black_box(registry.touch(now, id));
                };
                b.iter_custom(|iters| run_threads(threads, iters, &registry_order, &touch));
            });
            group.bench_function(BenchmarkId::new("baseline_mutex_hashmap", size), |b| {
                let touch = |id, now| {
                    black_box(baseline.touch(id, now));
                };
                b.iter_custom(|iters| run_threads(threads, iters, &baseline_order, &touch));
            });
            group.bench_function(BenchmarkId::new("moka", size), |b| {
                let touch = |id, now| {
                    black_box(moka_touch(&cache, id, now));
                };
                b.iter_custom(|iters| run_threads(threads, iters, &baseline_order, &touch));
            });
            group.bench_function(BenchmarkId::new("floor_one_random_miss", size), |b| {
                let touch = |id: i64, now| {
                    black_box(floor.touch(id.unsigned_abs(), now));
                };
                b.iter_custom(|iters| run_threads(threads, iters, &baseline_order, &touch));
            });
            ladder.bench(&mut group, size, threads, &registry_order);
            group.finish();
        }
    }
}

fn login(c: &mut Criterion) {
    let table = table();
    let mut group = c.benchmark_group("login_sign_out");
    let mut index = 0_i64;
    for (name, registry) in
        [("registry", registry()), ("registry_unsealed_ids", registry_unsealed())]
    {
        group.bench_function(name, |b| {
            b.iter(|| {
                index += 1;
                // A thousand logins a millisecond, so the id generator never runs ahead of its
                // clock.
                let now = START_MS + index.unsigned_abs() / 1_000;
                let id = registry_login(&registry, &table, index, now);
                registry.sign_out(now, id)
            });
        });
    }
    let baseline = Baseline::new();
    group.bench_function("baseline_mutex_hashmap", |b| {
        b.iter(|| {
            index += 1;
            let id = baseline.login("alice", &ip(index), START_MS);
            baseline.sign_out(id);
        });
    });
    let cache = moka();
    group.bench_function("moka", |b| {
        b.iter(|| {
            index += 1;
            moka_login(&cache, index, START_MS);
            cache.invalidate(&index);
        });
    });
    group.finish();
}

/// 1M sessions whose last activity is spread evenly over one idle timeout; each round moves the
/// clock by `step_ms` and the sessions it expires are logged in again (untimed), so every round
/// sees the same mix.
#[expect(clippy::disallowed_methods, reason = "a bench measures wall time")]
#[expect(clippy::disallowed_types, reason = "a bench measures wall time")]
fn reclaim(c: &mut Criterion) {
    let table = table();
    let size: u64 = 1_000_000;
    let mut group = c.benchmark_group("reclaim_1m");
    group.sample_size(10);
    for (name, step_ms) in [("none_expire", 0), ("1pct_expire", IDLE_MS / 100)] {
        let registry = registry();
        let baseline = Baseline::new();
        for index in 0..size {
            let now = START_MS + index * IDLE_MS / size;
            registry_login(&registry, &table, i64::try_from(index).unwrap(), now);
            baseline.login("alice", "10.0.0.1", now);
        }
        let mut now = START_MS + IDLE_MS - 1;
        group.bench_function(BenchmarkId::new("registry", name), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    now += step_ms;
                    let start = std::time::Instant::now();
                    let expired = registry.handle_timeout(now);
                    timed += start.elapsed();
                    for index in 0..expired {
                        registry_login(&registry, &table, i64::from(index), now);
                    }
                }
                timed
            });
        });
        let mut now = START_MS + IDLE_MS - 1;
        group.bench_function(BenchmarkId::new("baseline_mutex_hashmap", name), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    now += step_ms;
                    let start = std::time::Instant::now();
                    let expired = baseline.reclaim(now);
                    timed += start.elapsed();
                    for _ in 0..expired {
                        baseline.login("alice", "10.0.0.1", now);
                    }
                }
                timed
            });
        });
    }
    // moka reads its own clock, so only the round with nothing expiring can be set up.
    let cache = moka();
    for index in 0..i64::try_from(size).unwrap() {
        moka_login(&cache, index + 1, START_MS);
    }
    cache.run_pending_tasks();
    group.bench_function(BenchmarkId::new("moka", "none_expire"), |b| {
        b.iter(|| cache.run_pending_tasks());
    });
    group.finish();
}

/// Resident memory per session, from /proc/self/statm, at 1M sessions of each design.
#[expect(clippy::disallowed_methods, reason = "a bench reads its own resident memory")]
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 =
        statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).unwrap_or(0);
    pages * 4_096
}

#[expect(clippy::print_stdout, reason = "a bench reports what criterion cannot measure")]
fn bytes_per_session(_: &mut Criterion) {
    let table = table();
    let count: u64 = 1_000_000;
    let before = resident_bytes();
    let registry = registry();
    let ids: Vec<i64> = (0..i64::try_from(count).unwrap())
        .map(|index| registry_login(&registry, &table, index, START_MS))
        .collect();
    let registry_bytes = (resident_bytes().saturating_sub(before)) / count;
    // The same sessions once active: each USEs a space and runs one query.
    let before = resident_bytes();
    for &id in &ids {
        registry.use_space(START_MS + 1, id, "nba", &table).unwrap();
        let query = registry.begin_query(START_MS + 1, id, "GO FROM 1 OVER follow", &table);
        let query = query.unwrap();
        registry.finish_query(START_MS + 2, query.session, query.plan).unwrap();
        while registry.poll_event().is_some() {}
    }
    let active_bytes = registry_bytes + (resident_bytes().saturating_sub(before)) / count;
    // Nothing is freed until the end, so each delta counts only that design's allocations.
    let before = resident_bytes();
    let baseline = Baseline::new();
    for index in 0..i64::try_from(count).unwrap() {
        baseline.login("alice", &ip(index), START_MS);
    }
    let baseline_bytes = (resident_bytes().saturating_sub(before)) / count;
    let before = resident_bytes();
    let cache = moka();
    for index in 0..i64::try_from(count).unwrap() {
        moka_login(&cache, index + 1, START_MS);
    }
    cache.run_pending_tasks();
    let moka_bytes = (resident_bytes().saturating_sub(before)) / count;
    // One word per name: `cargo xtask bench` reads this line back.
    println!(
        "bytes per session at 1M (resident, strings included): registry {registry_bytes}, \
         registry_after_use_and_a_query {active_bytes}, baseline_mutex_hashmap \
         {baseline_bytes}, moka {moka_bytes}"
    );
    drop((registry, baseline, cache));
}

criterion_group!(benches, bytes_per_session, find_touch, login, reclaim);
criterion_main!(benches);
