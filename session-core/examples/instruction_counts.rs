//! Instructions per operation of the registries' hot paths, a load-independent measure for a
//! shared machine where wall times are noisy: each operation runs `count` times inside a function
//! of its own, and callgrind counts the instructions of that function alone.
//!
//! Run (one operation at a time; divide the `Ir` total by `count`):
//!
//! ```text
//! cargo build --release -p graphsession-core --example instruction_counts
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     --toggle-collect='instruction_counts::measured_*' \
//!     target/release/examples/instruction_counts login 100000
//! ```
//!
//! Operations: `login` (login + sign-out on the server registry, as the criterion bench
//! `server_registry` does it), `login_unsealed` (the same with unsealed session ids),
//! `login_baseline` (the same on the bench's `Mutex<HashMap>` baseline), `query` (register + finish on one query-plan registry with 10,000 queries running,
//! as the criterion bench `query-plan/benches/registry.rs` does it), `touch_1m` and
//! `touch_1m_baseline` (find + touch at 1M sessions in a shuffled order), and `touch_1m_floor`
//! (the criterion bench's floor: one probe of a flat table of 16-byte slots and one
//! compare-and-swap). Add `--cache-sim=yes` to count the simulated cache misses per operation
//! too. Without callgrind the example prints the operation's wall time, which is only
//! indicative.
#![expect(clippy::print_stdout, reason = "an example shows its output")]
#![expect(clippy::unwrap_used, reason = "a measuring tool: a failed unwrap is a failed run")]

#[path = "../benches/support/shuffle.rs"]
mod shuffle;
use shuffle::shuffled;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
use graphsession_id_gen::{
    PlanId, PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};
use graphsession_query_plan::{QueryRegistry, Registration};

const START_MS: u64 = 1_763_900_000_000;
const IDLE_MS: u64 = 28_800_000;
const T0_US: u64 = 1_763_900_000_000_000;
const STATEMENT: &str = "GO FROM \"player100\" OVER follow YIELD dst(edge)";

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::OPEN, "alice").unwrap();
    table.grant(&root, Policy::OPEN, Role::User, "nba", "alice").unwrap();
    table
}

const LEASE: SessionLease =
    SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };

/// The registry of the criterion bench `server_registry`.
fn registry() -> SessionManager {
    let ids =
        SessionIdGenerator::new(LEASE, SealKey::from_bytes([3; 16]), SessionIdConfig::default());
    registry_with(ids.unwrap())
}

/// The same with unsealed session ids (the bench's `registry_unsealed_ids`).
fn registry_unsealed() -> SessionManager {
    registry_with(SessionIdGenerator::unsealed(LEASE, SessionIdConfig::default()).unwrap())
}

fn registry_with(ids: SessionIdGenerator) -> SessionManager {
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 9, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config { sessions_per_user_ip_max: 0, events_max: 1, ..Config::default() };
    SessionManager::new(config, ids, plans.unwrap()).unwrap()
}

/// 250 client ips, as in the criterion bench.
fn ip(index: i64) -> String {
    format!("10.0.{}.{}", index % 250, index % 7)
}

fn login(registry: &SessionManager, table: &RoleTable, index: i64, now: u64) -> i64 {
    let client_ip = ip(index);
    let login = Login { user: "alice", client_ip: &client_ip, password: PasswordCheck::Verified };
    registry.login(now, login, table).unwrap().get()
}

/// A baseline session: user, client ip, space, created and last activity (Unix ms).
type BaselineSession = (String, String, String, u64, u64);

/// The criterion bench's baseline: one lock around one map.
#[derive(Default)]
struct Baseline {
    sessions: Mutex<HashMap<i64, BaselineSession>>,
    next_id: i64,
}

impl Baseline {
    fn login(&mut self, user: &str, client_ip: &str, now: u64) -> i64 {
        self.next_id += 1;
        let session = (user.to_owned(), client_ip.to_owned(), String::new(), now, now);
        self.sessions.lock().unwrap().insert(self.next_id, session);
        self.next_id
    }

    fn touch(&self, id: i64, now: u64) -> bool {
        let mut sessions = self.sessions.lock().unwrap();
        sessions.get_mut(&id).map(|session| session.4 = now).is_some()
    }

    fn sign_out(&self, id: i64) {
        self.sessions.lock().unwrap().remove(&id);
    }
}

#[inline(never)]
fn measured_login(registry: &SessionManager, table: &RoleTable, count: i64) {
    for index in 1..=count {
        let now = START_MS + index.unsigned_abs() / 1_000;
        let id = login(registry, table, index, now);
        black_box(registry.sign_out(now, id));
    }
}

#[inline(never)]
fn measured_login_baseline(baseline: &mut Baseline, count: i64) {
    for index in 1..=count {
        let id = baseline.login("alice", &ip(index), START_MS);
        baseline.sign_out(id);
    }
}

fn query_registry() -> QueryRegistry {
    let config = graphsession_query_plan::Config {
        queries_per_node_max: 200_000,
        ..graphsession_query_plan::Config::default()
    };
    let mut registry = QueryRegistry::new(config);
    for index in 1..=1_000 {
        let session = SessionId::new(index).unwrap();
        registry.open_session(session, "bench", "graphd:9669").unwrap();
    }
    for counter in 0..10_000 {
        register(&mut registry, counter, T0_US + 60_000_000);
    }
    registry
}

fn query_session(counter: u64) -> SessionId {
    SessionId::new(1 + i64::try_from(counter % 1_000).unwrap()).unwrap()
}

fn register(registry: &mut QueryRegistry, counter: u64, deadline_unix_us: u64) {
    let registration = Registration {
        session: query_session(counter),
        plan: PlanId::from_u64(counter),
        statement: STATEMENT,
        deadline_unix_us: Some(deadline_unix_us),
    };
    drop(registry.register(T0_US, registration).unwrap());
}

#[inline(never)]
fn measured_query(registry: &mut QueryRegistry, count: u64) {
    for counter in 1_000_000..1_000_000 + count {
        register(registry, counter, T0_US + 30_000_000);
        let finished = registry.finish(query_session(counter), PlanId::from_u64(counter));
        black_box(finished.unwrap());
    }
}

#[inline(never)]
fn measured_touch(registry: &SessionManager, order: &[i64], count: usize) {
    for step in 0..count {
        let now = START_MS + IDLE_MS + (step as u64 >> 10);
        let _ = black_box(registry.touch(now, order[step % order.len()]));
    }
}

/// The floor of find + touch: see `Floor` in the criterion bench `server_registry`.
struct Floor {
    slots: Box<[(AtomicU64, AtomicU64)]>,
    mask: usize,
}

impl Floor {
    fn new(size: usize) -> Floor {
        let capacity = (size * 2).next_power_of_two();
        let slots = (0..capacity).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect();
        Floor { slots, mask: capacity - 1 }
    }

    fn home(&self, key: u64) -> usize {
        let product = u128::from(key) * 0x9E37_79B9_7F4A_7C15;
        let folded = u64::try_from(product >> 64).unwrap()
            ^ u64::try_from(product & u128::from(u64::MAX)).unwrap();
        usize::try_from(folded).unwrap() & self.mask
    }

    fn insert(&self, key: u64, now: u64) {
        let mut index = self.home(key);
        while self.slots[index].0.load(Ordering::Relaxed) != 0 {
            index = (index + 1) & self.mask;
        }
        self.slots[index].1.store(now, Ordering::Relaxed);
        self.slots[index].0.store(key, Ordering::Release);
    }

    fn touch(&self, key: u64, now: u64) -> bool {
        let mut index = self.home(key);
        loop {
            let (found, word) = &self.slots[index];
            match found.load(Ordering::Acquire) {
                0 => return false,
                found if found == key => {
                    word.fetch_max(now, Ordering::AcqRel);
                    return true;
                }
                _ => index = (index + 1) & self.mask,
            }
        }
    }
}

#[inline(never)]
fn measured_touch_floor(floor: &Floor, order: &[i64], count: usize) {
    for step in 0..count {
        let now = START_MS + IDLE_MS + (step as u64 >> 10);
        black_box(floor.touch(order[step % order.len()].unsigned_abs(), now));
    }
}

#[inline(never)]
fn measured_touch_baseline(baseline: &Baseline, order: &[i64], count: usize) {
    for step in 0..count {
        let now = START_MS + IDLE_MS + (step as u64 >> 10);
        black_box(baseline.touch(order[step % order.len()], now));
    }
}

#[expect(clippy::disallowed_methods, reason = "a measuring tool reads its arguments and clock")]
#[expect(clippy::disallowed_types, reason = "a measuring tool reads the wall clock")]
fn main() {
    let mut args = std::env::args().skip(1);
    let operation = args.next().unwrap_or_else(|| "login".to_owned());
    let count: usize = args.next().map_or(100_000, |count| count.parse().unwrap());
    let signed = i64::try_from(count).unwrap();
    let table = table();
    let start;
    match operation.as_str() {
        "login" => {
            let registry = registry();
            start = std::time::Instant::now();
            measured_login(&registry, &table, signed);
        }
        "login_unsealed" => {
            let registry = registry_unsealed();
            start = std::time::Instant::now();
            measured_login(&registry, &table, signed);
        }
        "login_baseline" => {
            let mut baseline = Baseline::default();
            start = std::time::Instant::now();
            measured_login_baseline(&mut baseline, signed);
        }
        "query" => {
            let mut registry = query_registry();
            start = std::time::Instant::now();
            measured_query(&mut registry, count as u64);
        }
        "touch_1m" => {
            let registry = registry();
            let ids = (0..1_000_000).map(|index| login(&registry, &table, index, START_MS));
            let order = shuffled(ids.collect());
            start = std::time::Instant::now();
            measured_touch(&registry, &order, count);
        }
        "touch_1m_baseline" => {
            let mut baseline = Baseline::default();
            let ids = (0..1_000_000).map(|index| baseline.login("alice", &ip(index), START_MS));
            let order = shuffled(ids.collect());
            start = std::time::Instant::now();
            measured_touch_baseline(&baseline, &order, count);
        }
        "touch_1m_floor" => {
            let floor = Floor::new(1_000_000);
            for key in 1..=1_000_000 {
                floor.insert(key, START_MS);
            }
            let order = shuffled((1..=1_000_000).collect());
            start = std::time::Instant::now();
            measured_touch_floor(&floor, &order, count);
        }
        other => panic!("unknown operation {other}"),
    }
    let per_op = start.elapsed().as_nanos() / count.max(1) as u128;
    println!("{operation}: {count} operations, {per_op} ns each (wall time, indicative)");
}
