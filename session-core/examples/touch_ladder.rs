//! Find + touch at 1M sessions on the registry and on each rung of the criterion bench's ladder
//! from the floor to the registry (`benches/support/floors.rs`), alternated inside one process:
//! every round times a slice of `count` touches on each variant in turn (the first variant
//! rotating from round to round), so a load that changes over seconds on a shared machine
//! reaches every variant alike. Prints each variant's median, fastest and slowest round, in ns
//! per touch (wall time).
//!
//! Run: `cargo run --release -p graphsession-core --example touch_ladder -- 30 1000000 1000000`
//! (rounds, touches per slice, sessions; a variant's name after them runs that one alone, e.g.
//! under callgrind for its instructions per touch). `diagnostic_floor_plain_store` is the floor with a
//! plain store for its compare-and-swap (not a valid touch, see `Floor::touch_store`): what the
//! locked instruction costs. `diagnostic_floor_padded_<n>` is the floor after `n` rounds of
//! three instructions of arithmetic that no load depends on (`Floor::touch_padded`): what
//! instructions alone cost a touch.
#![expect(clippy::print_stdout, reason = "an example shows its output")]
#![expect(clippy::unwrap_used, reason = "a measuring tool: a failed unwrap is a failed run")]

#[path = "../benches/support/shuffle.rs"]
mod shuffle;
use shuffle::shuffled;

use std::hint::black_box;

use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};

#[path = "../benches/support/floors.rs"]
mod floors;

use floors::{Floor, FloorBlocks, FloorShards};

const START_MS: u64 = 1_763_900_000_000;
const IDLE_MS: u64 = 28_800_000;
const LEASE: SessionLease =
    SessionLease { slot: 9, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };

/// The criterion bench's registry, holding `SESSIONS` sessions; their ids in login order.
fn registry(sessions: i64) -> (SessionManager, Vec<i64>) {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::OPEN, "alice").unwrap();
    table.grant(&root, Policy::OPEN, Role::User, "nba", "alice").unwrap();
    let ids =
        SessionIdGenerator::new(LEASE, SealKey::from_bytes([3; 16]), SessionIdConfig::default());
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 9, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config { sessions_per_user_ip_max: 0, events_max: 1, ..Config::default() };
    let registry = SessionManager::new(config, ids.unwrap(), plans.unwrap()).unwrap();
    let ids = (0..sessions).map(|index| {
        let client_ip = format!("10.0.{}.{}", index % 250, index % 7);
        let login =
            Login { user: "alice", client_ip: &client_ip, password: PasswordCheck::Verified };
        registry.login(START_MS, login, &table).unwrap().get()
    });
    let ids = ids.collect();
    (registry, ids)
}

/// `count` touches from `order`, starting at `*step`; ns per touch.
#[expect(clippy::disallowed_types, reason = "a measuring tool reads the wall clock")]
#[expect(clippy::disallowed_methods, reason = "a measuring tool reads the wall clock")]
fn slice(order: &[i64], step: &mut usize, count: usize, touch: &impl Fn(i64, u64)) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..count {
        touch(order[*step % order.len()], START_MS + IDLE_MS + (*step as u64 >> 10));
        *step += 1;
    }
    start.elapsed().as_nanos() as f64 / count as f64
}

/// A variant of the ladder: its name, the ids it visits in order, and its touch.
type Rung<'a> = (&'static str, &'a [i64], &'a dyn Fn(i64, u64));

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(30, |rounds| rounds.parse().unwrap());
    let count: usize = args.next().map_or(1_000_000, |count| count.parse().unwrap());
    let sessions: i64 = args.next().map_or(1_000_000, |sessions| sessions.parse().unwrap());
    let only = args.next();
    let (registry, ids) = registry(sessions);
    let keys: Vec<u64> = ids.iter().map(|id| id.unsigned_abs()).collect();
    let floor = Floor::new(keys.len());
    let floor_sealed = Floor::new(keys.len());
    let shards_one = FloorShards::new(&keys, true);
    let shards = FloorShards::new(&keys, false);
    let blocks_one = FloorBlocks::new(&keys, true);
    let blocks = FloorBlocks::new(&keys, false);
    for (index, &key) in keys.iter().enumerate() {
        floor.insert(u64::try_from(index).unwrap() + 1, START_MS);
        floor_sealed.insert(key, START_MS);
        shards_one.insert(key, START_MS);
        shards.insert(key, START_MS);
        blocks_one.insert(key, START_MS);
        blocks.insert(key, START_MS);
    }
    let sealed_order = shuffled(ids);
    let floor_order = shuffled((1..=sessions).collect());
    let ladder: [Rung<'_>; 10] = [
        ("diagnostic_floor_padded_12", &floor_order, &|id, now| {
            black_box(floor.touch_padded(id.unsigned_abs(), now, 12));
        }),
        ("diagnostic_floor_padded_25", &floor_order, &|id, now| {
            black_box(floor.touch_padded(id.unsigned_abs(), now, 25));
        }),
        ("diagnostic_floor_plain_store", &floor_order, &|id, now| {
            black_box(floor.touch_store(id.unsigned_abs(), now));
        }),
        ("floor_one_random_miss", &floor_order, &|id, now| {
            black_box(floor.touch(id.unsigned_abs(), now));
        }),
        ("floor_sealed_ids", &sealed_order, &|id, now| {
            black_box(floor_sealed.touch(id.unsigned_abs(), now));
        }),
        ("floor_shards_one_allocation", &sealed_order, &|id, now| {
            black_box(shards_one.touch(id.unsigned_abs(), now));
        }),
        ("floor_shards", &sealed_order, &|id, now| {
            black_box(shards.touch(id.unsigned_abs(), now));
        }),
        ("floor_blocks_one_allocation", &sealed_order, &|id, now| {
            black_box(blocks_one.touch(id.unsigned_abs(), now));
        }),
        ("floor_blocks", &sealed_order, &|id, now| {
            black_box(blocks.touch(id.unsigned_abs(), now));
        }),
        ("registry", &sealed_order, &|id, now| {
            let _ = black_box(registry.touch(now, id));
        }),
    ];
    let mut steps = [0_usize; 10];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); ladder.len()];
    for round in 0..rounds {
        for turn in 0..ladder.len() {
            let which = (round + turn) % ladder.len();
            let (name, order, touch) = ladder[which];
            if only.as_ref().is_some_and(|only| only != name) {
                continue;
            }
            times[which].push(slice(order, &mut steps[which], count, &touch));
        }
    }
    for ((name, _, _), mut times) in ladder.iter().zip(times) {
        if times.is_empty() {
            continue;
        }
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
        let fastest = times.first().copied().unwrap_or(f64::NAN);
        let slowest = times.last().copied().unwrap_or(f64::NAN);
        println!("{name:28} median {median:6.1} ns  fastest {fastest:6.1}  slowest {slowest:6.1}");
    }
}
