//! What a host pays per session held, at 10k, 100k and 200k live sessions, for the two jobs that
//! read every session: capturing the state for a periodic write (the meta store's
//! [`MetaStore::capture`] and a registry's [`SessionManager::capture`]) and a full sync round's
//! read of the node's sessions ([`LocalSessions::session_states`]). graphd does both on its
//! actor, so every request waits while they run.
//!
//! Run: `cargo bench -p graphsession-core --bench held_sessions -- --warm-up-time 1
//! --measurement-time 3`. Each session logged in as a client of 250 ips, in the nba space (a live
//! meta record holds a user, an ip and a space, as in production). `capture` is what the owner's
//! thread pays; `snapshot` is capture and snapshot at once (records built, sorted, checksummed).
//!
//! `full_round_read` has `session_states` (what a full round reads) beside `sessions` (the whole
//! reports it read before, three strings per session).
//!
//! Figures of 2026-12-08 (2-core AMD EPYC; docs/benchmarks-history.md): at 200,000 sessions meta's
//! capture 12.3 ms and a registry's 21.1 ms, against 104 ms and 284 ms for the snapshots that
//! copied everything before.
#![allow(clippy::unwrap_used, reason = "bench setup: a failed unwrap is a failed bench")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use graphsession_core::cluster::{
    Answer, LocalSessions, MetaConfig, MetaStore, NodeId, Request, RequestId, ServerRegistry,
    SessionReport,
};
use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};

const START_MS: u64 = 1_763_900_000_000;
const SIZES: [usize; 3] = [10_000, 100_000, 200_000];

/// 250 client ips, as the registry bench spreads its logins.
fn ip(index: usize) -> String {
    format!("10.0.{}.{}", index % 250, index % 7)
}

/// A meta store holding `sessions` live sessions created on node 1, in batches of a request's
/// item bound.
fn meta_with(sessions: usize) -> MetaStore {
    let config = MetaConfig::default();
    let batch = usize::try_from(config.request_items_max).unwrap();
    let mut meta = MetaStore::new(config).unwrap();
    for (round, first) in (0..sessions).step_by(batch).enumerate() {
        let round = u64::try_from(round).unwrap();
        let mut request = Request::empty(RequestId { incarnation: 1, round });
        for index in first..(first + batch).min(sessions) {
            let id = SessionId::new(i64::try_from(index + 1).unwrap()).unwrap();
            let mut report = SessionReport::logged_in(id, "alice", &ip(index), START_MS);
            report.space = "nba".to_owned();
            report.space_set_unix_ms = START_MS;
            request.created.push(report);
        }
        let answer = meta.handle_request(START_MS, NodeId(1), request);
        assert!(matches!(answer, Answer::Reply(_)), "meta refused a batch: {answer:?}");
    }
    meta
}

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::OPEN, "alice").unwrap();
    table.grant(&root, Policy::OPEN, Role::User, "nba", "alice").unwrap();
    table
}

/// A registry holding `sessions` sessions of alice, each in the nba space.
fn registry_with(sessions: usize, table: &RoleTable) -> SessionManager {
    let lease = SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let ids =
        SessionIdGenerator::new(lease, SealKey::from_bytes([3; 16]), SessionIdConfig::default());
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 9, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config { sessions_per_user_ip_max: 0, events_max: 1, ..Config::default() };
    let registry = SessionManager::new(config, ids.unwrap(), plans.unwrap()).unwrap();
    for index in 0..sessions {
        let client_ip = ip(index);
        let login =
            Login { user: "alice", client_ip: &client_ip, password: PasswordCheck::Verified };
        // A thousand logins a millisecond, so the id generator never runs ahead of its clock.
        let now = START_MS + u64::try_from(index / 1_000).unwrap();
        let id = registry.login(now, login, table).unwrap();
        registry.use_space(now, id.get(), "nba", table).unwrap();
    }
    registry
}

fn meta_snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("meta_snapshot");
    group.sample_size(10);
    for size in SIZES {
        let meta = meta_with(size);
        group.throughput(Throughput::Elements(u64::try_from(size).unwrap()));
        group.bench_with_input(BenchmarkId::new("capture", size), &meta, |b, meta| {
            b.iter_with_large_drop(|| meta.capture());
        });
        group.bench_with_input(BenchmarkId::new("snapshot", size), &meta, |b, meta| {
            b.iter_with_large_drop(|| meta.snapshot());
        });
    }
    group.finish();
}

fn registry_snapshot(c: &mut Criterion) {
    let table = table();
    let mut group = c.benchmark_group("registry_snapshot");
    group.sample_size(10);
    for size in SIZES {
        let registry = registry_with(size, &table);
        group.throughput(Throughput::Elements(u64::try_from(size).unwrap()));
        group.bench_with_input(BenchmarkId::new("capture", size), &registry, |b, registry| {
            b.iter_with_large_drop(|| registry.capture());
        });
        group.bench_with_input(BenchmarkId::new("snapshot", size), &registry, |b, registry| {
            b.iter_with_large_drop(|| registry.snapshot());
        });
    }
    group.finish();
}

fn full_round_read(c: &mut Criterion) {
    let table = table();
    let mut group = c.benchmark_group("full_round_read");
    group.sample_size(10);
    for size in SIZES {
        let registry = registry_with(size, &table);
        let local = ServerRegistry::new(START_MS, &registry, &table);
        group.throughput(Throughput::Elements(u64::try_from(size).unwrap()));
        group.bench_with_input(BenchmarkId::new("session_states", size), &local, |b, local| {
            b.iter_with_large_drop(|| local.session_states());
        });
        group.bench_with_input(BenchmarkId::new("sessions", size), &local, |b, local| {
            b.iter_with_large_drop(|| local.sessions());
        });
    }
    group.finish();
}

criterion_group!(benches, meta_snapshot, registry_snapshot, full_round_read);
criterion_main!(benches);
