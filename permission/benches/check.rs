//! How long one permission check takes for a resolved caller: the budget is 20 ns per check. Also measures
//! the per-request staleness test of fix 4 (see docs/fixes.md), which every request pays before its checks.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use graphsession_permission::{
    Caller, Policy, Role, RoleTable, Statement, check_kill_query, check_statement,
    may_see_queries_of,
};

const ON: Policy = Policy { authorization_enabled: true };

fn setup() -> (RoleTable, Caller, Caller) {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, ON, "alice").expect("create alice");
    for space in ["a", "b", "nba", "x", "y", "z"] {
        table.grant(&root, ON, Role::Dba, space, "alice").expect("grant");
    }
    let alice = Caller::resolve(&table, "alice", Some("nba"));
    let root = Caller::resolve(&table, "root", Some("nba"));
    (table, alice, root)
}

fn checks(c: &mut Criterion) {
    let (table, alice, root) = setup();
    let mut group = c.benchmark_group("check");
    group.bench_function("read data (GO), allowed", |b| {
        b.iter(|| check_statement(black_box(&alice), black_box(ON), black_box(&Statement::Go)))
    });
    group.bench_function("write data (INSERT), allowed", |b| {
        b.iter(|| {
            check_statement(black_box(&alice), black_box(ON), black_box(&Statement::InsertVertices))
        })
    });
    group.bench_function("write space (CREATE SPACE), refused", |b| {
        b.iter(|| {
            check_statement(black_box(&alice), black_box(ON), black_box(&Statement::CreateSpace))
        })
    });
    group.bench_function(
        "read space (USE another space: one lookup in own rights), allowed",
        |b| {
            b.iter(|| {
                check_statement(
                    black_box(&alice),
                    black_box(ON),
                    black_box(&Statement::Use { space: "x" }),
                )
            })
        },
    );
    group.bench_function("GOD, write schema", |b| {
        b.iter(|| {
            check_statement(black_box(&root), black_box(ON), black_box(&Statement::CreateTag))
        })
    });
    group.bench_function("kill query, own", |b| {
        b.iter(|| check_kill_query(black_box(&alice), black_box(ON), black_box("alice")))
    });
    group.bench_function("may see queries of, other", |b| {
        b.iter(|| may_see_queries_of(black_box(&alice), black_box(ON), black_box("bob")))
    });
    group.bench_function("is_stale (fix 4, per request)", |b| {
        b.iter(|| black_box(&alice).is_stale(black_box(&table)))
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
