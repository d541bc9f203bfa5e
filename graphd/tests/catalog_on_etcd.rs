//! Users, roles, spaces and passwords shared by graphd processes on one etcd (the shared
//! catalog, `graphd/src/actor/turn.rs`): what one graphd creates, grants, revokes, alters or
//! drops holds on every other, a REVOKE reaches another graphd's open session, changes made at
//! once on two graphd processes are all kept, a change etcd does not take (too large, or the
//! lock held elsewhere for a whole wait) is undone and refused everywhere, a dead holder's lock
//! is freed when its lease expires, a script of changes takes a turn per statement, a graphd
//! with a fresh data directory takes the cluster's, and while a change is being written (held
//! back by a proxy in front of etcd) no other request of that graphd runs, so a write etcd
//! refuses is seen by no statement and no login. Processes and etcd are stopped by their pids.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]
#![allow(clippy::print_stdout, reason = "the test prints what it measured")]

mod etcd_support;
mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use etcd_support::etcd::EtcdCluster;
use etcd_support::{GraphdProcess, Proxy};
use support::{Client, Graphd, config, fresh_dir, string, within};
use tokio::time::Instant;

/// NebulaGraph's `E_SESSION_INVALID`.
const E_SESSION_INVALID: i32 = -1002;
const AUTHORIZE: &str = "--enable_authorize=true";
/// How long another graphd may take to see a change: one etcd watch delivery, with room.
const SEEN_WITHIN: Duration = Duration::from_secs(5);

/// Polls `check` until it holds, at most [`SEEN_WITHIN`]; the time it took.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < SEEN_WITHIN, "not within {SEEN_WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `statement` on `session` until it succeeds (`succeeds`) or fails, at most
/// [`SEEN_WITHIN`]; the time it took.
async fn until(client: &mut Client, session: i64, statement: &str, succeeds: bool) -> Duration {
    let started = Instant::now();
    loop {
        if (client.execute(session, statement).await.code() == 0) == succeeds {
            return started.elapsed();
        }
        assert!(started.elapsed() < SEEN_WITHIN, "{statement} not within {SEEN_WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `user` logs in on `addr` with `password`.
async fn logs_in(addr: SocketAddr, user: &str, password: &str) -> bool {
    let mut client = Client::python(addr).await;
    client.authenticate(user, password).await.error_code.0 == 0
}

/// A root session on `addr`.
async fn root(addr: SocketAddr) -> (Client, i64) {
    let mut client = Client::python(addr).await;
    let session = client.login("root", "nebula").await;
    (client, session)
}

/// Runs `statement`, which must succeed.
async fn ok(client: &mut Client, session: i64, statement: &str) {
    let response = client.execute(session, statement).await;
    assert_eq!(response.code(), 0, "{statement}: {}", response.message());
}

/// The first column of every row of `statement`.
async fn names(client: &mut Client, session: i64, statement: &str) -> BTreeSet<String> {
    let response = client.execute(session, statement).await;
    assert_eq!(response.code(), 0, "{statement}: {}", response.message());
    response.rows().iter().map(|row| string(&row[0])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_graphd_changes_holds_on_another_and_a_revoke_reaches_its_open_session() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let first = GraphdProcess::start_with(&etcd.url(), "/catalog/", &[AUTHORIZE]);
        let second = GraphdProcess::start_with(&etcd.url(), "/catalog/", &[AUTHORIZE]);
        let (mut admin, admin_session) = root(first.addr).await;
        ok(&mut admin, admin_session, "CREATE SPACE nba").await;
        ok(&mut admin, admin_session, "CREATE USER alice WITH PASSWORD 'pw'").await;
        // The user logs in on the other graphd, which lists the space.
        let took = eventually("alice logs in on the second graphd", || {
            logs_in(second.addr, "alice", "pw")
        })
        .await;
        println!("CREATE USER on one graphd, login on another after {took:?}");
        let (mut other_admin, other_session) = root(second.addr).await;
        let spaces = names(&mut other_admin, other_session, "SHOW SPACES").await;
        assert_eq!(spaces, BTreeSet::from(["nba".to_owned()]));

        // alice's session on the second graphd has no role in nba yet.
        let mut alice = Client::python(second.addr).await;
        let alice_session = alice.login("alice", "pw").await;
        let refused = alice.execute(alice_session, "USE nba").await;
        assert_ne!(refused.code(), 0, "USE without a role");
        ok(&mut admin, admin_session, "GRANT ROLE USER ON nba TO alice").await;
        let took = until(&mut alice, alice_session, "USE nba", true).await;
        println!("GRANT on one graphd, used by an open session on another after {took:?}");

        // The REVOKE on the first graphd reaches the same open session on the second.
        ok(&mut admin, admin_session, "REVOKE ROLE USER ON nba FROM alice").await;
        let took = until(&mut alice, alice_session, "USE nba", false).await;
        println!("REVOKE on one graphd, refused to an open session on another after {took:?}");

        // A password changed on the second graphd holds on the first; the old one no longer.
        ok(&mut other_admin, other_session, "ALTER USER alice WITH PASSWORD 'pw2'").await;
        eventually("the new password on the first graphd", || logs_in(first.addr, "alice", "pw2"))
            .await;
        assert!(!logs_in(first.addr, "alice", "pw").await, "the old password still works");

        // A user dropped on the second graphd cannot log in on the first, and its open session
        // there ends at its next request.
        let mut alice_first = Client::python(first.addr).await;
        let alice_first_session = alice_first.login("alice", "pw2").await;
        let before = alice_first.execute(alice_first_session, "SHOW SESSION 1").await.code();
        assert_ne!(before, E_SESSION_INVALID);
        ok(&mut other_admin, other_session, "DROP USER alice").await;
        let started = Instant::now();
        while alice_first.execute(alice_first_session, "SHOW SESSION 1").await.code()
            != E_SESSION_INVALID
        {
            assert!(started.elapsed() < SEEN_WITHIN, "the dropped user's session lives on");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let addr = first.addr;
        eventually("the dropped user refused on the first graphd", || async move {
            !logs_in(addr, "alice", "pw2").await
        })
        .await;
        ok(&mut other_admin, other_session, "DROP SPACE nba").await;
        let addr = first.addr;
        eventually("the dropped space gone on the first graphd", || async move {
            let (mut client, own) = root(addr).await;
            names(&mut client, own, "SHOW SPACES").await.is_empty()
        })
        .await;

        // A graphd with a fresh data directory takes the cluster's users, not its own root
        // alone: bob, created before it started, logs in there.
        ok(&mut admin, admin_session, "CREATE USER bob WITH PASSWORD 'bob-pw'").await;
        let third = GraphdProcess::start_with(&etcd.url(), "/catalog/", &[AUTHORIZE]);
        assert!(logs_in(third.addr, "bob", "bob-pw").await, "{}", third.log());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_at_once_on_two_graphd_are_all_kept() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let graphds = [
            GraphdProcess::start_with(&etcd.url(), "/catalog-race/", &[AUTHORIZE]),
            GraphdProcess::start_with(&etcd.url(), "/catalog-race/", &[AUTHORIZE]),
        ];
        let (mut admin, session) = root(graphds[0].addr).await;
        ok(&mut admin, session, "CREATE SPACE race").await;
        let addr = graphds[1].addr;
        eventually("the space on the second graphd", || async move {
            let (mut client, own) = root(addr).await;
            names(&mut client, own, "SHOW SPACES").await.contains("race")
        })
        .await;
        // Each graphd creates users and grants them a role, on four connections at once.
        let mut tasks = Vec::new();
        for (index, graphd) in graphds.iter().enumerate() {
            for connection in 0..2 {
                let addr = graphd.addr;
                tasks.push(tokio::spawn(async move {
                    let (mut client, own) = root(addr).await;
                    for user in 0..5 {
                        let name = format!("u{index}c{connection}n{user}");
                        ok(&mut client, own, &format!("CREATE USER {name} WITH PASSWORD 'p'"))
                            .await;
                        ok(&mut client, own, &format!("GRANT ROLE GUEST ON race TO {name}")).await;
                    }
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut expected: BTreeSet<String> = BTreeSet::from(["root".to_owned()]);
        for index in 0..2 {
            for connection in 0..2 {
                for user in 0..5 {
                    expected.insert(format!("u{index}c{connection}n{user}"));
                }
            }
        }
        let granted: BTreeSet<String> = expected.iter().filter(|u| *u != "root").cloned().collect();
        for graphd in &graphds {
            let addr = graphd.addr;
            eventually("every user and role on every graphd", || {
                let (expected, granted) = (expected.clone(), granted.clone());
                async move {
                    let (mut client, own) = root(addr).await;
                    let users = names(&mut client, own, "SHOW USERS").await;
                    let roles = names(&mut client, own, "SHOW ROLES IN race").await;
                    users == expected && roles == granted
                }
            })
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_etcd_does_not_take_is_undone_and_refused_on_every_graphd() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let small = "--meta_catalog_bytes_max=4096";
        let first = GraphdProcess::start_with(&etcd.url(), "/catalog-full/", &[AUTHORIZE, small]);
        let second = GraphdProcess::start_with(&etcd.url(), "/catalog-full/", &[AUTHORIZE, small]);
        let (mut admin, session) = root(first.addr).await;
        // Users until the catalog would pass 4,096 bytes: that CREATE USER fails, naming why.
        let mut created = Vec::new();
        let refused = loop {
            let name = format!("user{}", created.len());
            let response =
                admin.execute(session, &format!("CREATE USER {name} WITH PASSWORD 'p'")).await;
            if response.code() != 0 {
                assert!(
                    response.message().contains("the change was not stored"),
                    "{}",
                    response.message()
                );
                assert!(
                    response.message().contains("catalog_bytes_max 4096"),
                    "{}",
                    response.message()
                );
                break name;
            }
            created.push(name);
            assert!(created.len() < 100, "4,096 bytes held 100 users");
        };
        assert!(created.len() > 5, "only {} users fit", created.len());
        // Undone here too: the refused user is nowhere, the others everywhere.
        let mut expected: BTreeSet<String> = created.iter().cloned().collect();
        expected.insert("root".to_owned());
        for graphd in [&first, &second] {
            let addr = graphd.addr;
            let expected = expected.clone();
            eventually("the created users, and only them", || {
                let expected = expected.clone();
                async move {
                    let (mut client, own) = root(addr).await;
                    names(&mut client, own, "SHOW USERS").await == expected
                }
            })
            .await;
            assert!(!logs_in(addr, &refused, "p").await, "the refused user logs in");
        }
        // Room made by a DROP USER on the other graphd: the same statement succeeds.
        let (mut other, other_session) = root(second.addr).await;
        ok(&mut other, other_session, "DROP USER user0").await;
        ok(&mut admin, session, &format!("CREATE USER {refused} WITH PASSWORD 'p'")).await;
        let addr = second.addr;
        eventually("the user made after the drop", || logs_in(addr, &refused, "p")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_waits_for_the_catalog_lock_and_a_dead_holders_lock_is_freed_by_its_lease() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let graphd = GraphdProcess::start_with(&etcd.url(), "/catalog-lock/", &[AUTHORIZE]);
        let (mut admin, session) = root(graphd.addr).await;
        for user in ["user1", "user2"] {
            ok(&mut admin, session, &format!("CREATE USER {user} WITH PASSWORD 'p'")).await;
        }
        let (mut other, other_session) = root(graphd.addr).await;
        // The catalog lock held elsewhere for longer than a turn waits: the change fails after
        // the wait, and nothing changed; once the lock is free the change goes through.
        let mut raw = etcd_client::Client::connect(etcd.endpoints(), None).await.unwrap();
        let lease = raw.lease_grant(60, None).await.unwrap().id();
        let hold = etcd_client::PutOptions::new().with_lease(lease);
        raw.put("/catalog-lock/catalog/lock", lease.to_string(), Some(hold)).await.unwrap();
        let started = Instant::now();
        let response = admin.execute(session, "DROP USER user1").await;
        assert_ne!(response.code(), 0, "a change without the lock");
        assert!(response.message().contains("held the catalog lock"), "{}", response.message());
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "gave up after {:?}",
            started.elapsed()
        );
        assert!(names(&mut other, other_session, "SHOW USERS").await.contains("user1"));
        raw.lease_revoke(lease).await.unwrap();
        ok(&mut admin, session, "DROP USER user1").await;

        // A holder that died (its lease no longer kept alive) frees the lock when its lease
        // expires: a change waiting for it goes through within the turn's wait.
        let dead = raw.lease_grant(2, None).await.unwrap().id();
        let hold = etcd_client::PutOptions::new().with_lease(dead);
        raw.put("/catalog-lock/catalog/lock", dead.to_string(), Some(hold)).await.unwrap();
        let started = Instant::now();
        ok(&mut admin, session, "DROP USER user2").await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500), "did not wait for the lock: {waited:?}");
        println!("a change waited {waited:?} for a dead holder's lock (lease 2 s)");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_graphd_on_etcd_brings_its_data_directorys_users_to_the_cluster() {
    within(120, async {
        // A data directory of the embedded mode, with a user of its own.
        let old = fresh_dir("catalog-migrate");
        let embedded = Graphd::start(config(&old)).await;
        let (mut admin, session) = root(embedded.addr()).await;
        ok(&mut admin, session, "CREATE USER carol WITH PASSWORD 'carol-pw'").await;
        ok(&mut admin, session, "CREATE SPACE carols").await;
        drop(admin);
        embedded.stop().await;
        let etcd = EtcdCluster::start(1);
        let data = format!("--data_path={}", old.display());
        let first = GraphdProcess::start_with(&etcd.url(), "/catalog-migrate/", &[&data]);
        // A second graphd with a fresh data directory takes them from etcd.
        let second = GraphdProcess::start(&etcd.url(), "/catalog-migrate/");
        assert!(logs_in(second.addr, "carol", "carol-pw").await, "{}", second.log());
        let (mut client, own) = root(second.addr).await;
        assert!(names(&mut client, own, "SHOW SPACES").await.contains("carols"));
        assert!(second.log().contains("the cluster's, from etcd"), "{}", second.log());
        // A script of two changes: each takes its own turn, both hold on the other graphd.
        let script = "CREATE USER dan WITH PASSWORD 'd'; GRANT ROLE GUEST ON carols TO dan";
        ok(&mut client, own, script).await;
        let addr = first.addr;
        eventually("the script's user and role on the first graphd", || async move {
            let (mut client, own) = root(addr).await;
            names(&mut client, own, "SHOW ROLES IN carols").await.contains("dan")
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_change_is_written_nothing_else_runs_and_a_write_etcd_refuses_is_seen_by_none() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let target = etcd.endpoints()[0].trim_start_matches("http://").parse().unwrap();
        let proxy = Proxy::start(target).await;
        let url = format!("etcd://{}", proxy.addr());
        let graphd = GraphdProcess::start_with(&url, "/catalog-held/", &[AUTHORIZE]);
        let addr = graphd.addr;
        let (mut admin, session) = root(addr).await;
        let (mut other, other_session) = root(addr).await;
        // The new user's password hash is in the catalog value the turn writes, and nowhere
        // else graphd sends to etcd: the proxy holds that write back.
        let (held, release) = proxy.hold_sent(br#""held_user":"$argon2"#);
        let create = tokio::spawn(async move {
            let response = admin.execute(session, "CREATE USER held_user WITH PASSWORD 'p'").await;
            (response.code(), response.message().to_owned(), admin)
        });
        tokio::time::timeout(SEEN_WITHIN, held).await.unwrap().unwrap();
        // Another writer's put of the catalog meanwhile (the same value, a newer revision):
        // etcd refuses the held write, fenced by the revision the turn read.
        let mut raw = etcd_client::Client::connect(etcd.endpoints(), None).await.unwrap();
        let key = "/catalog-held/catalog/value";
        let stored = raw.get(key, None).await.unwrap().kvs()[0].value().to_vec();
        assert!(!String::from_utf8_lossy(&stored).contains("held_user"), "written before the hold");
        raw.put(key, stored, None).await.unwrap();
        // A statement and a login of the new user, sent while the write is held, wait for it.
        let show = tokio::spawn(async move {
            let users = names(&mut other, other_session, "SHOW USERS").await;
            (users, Instant::now())
        });
        let login =
            tokio::spawn(async move { (logs_in(addr, "held_user", "p").await, Instant::now()) });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!show.is_finished(), "SHOW USERS answered while a change was being written");
        assert!(!login.is_finished(), "a login answered while a change was being written");
        let released_at = Instant::now();
        release.send(()).unwrap();
        let (code, message, mut admin) = create.await.unwrap();
        assert_ne!(code, 0, "a change etcd refused succeeded");
        assert!(message.contains("not stored"), "{message}");
        let (users, shown_at) = show.await.unwrap();
        assert!(shown_at >= released_at);
        assert!(!users.contains("held_user"), "SHOW USERS saw a change etcd refused: {users:?}");
        let (logged_in, logged_in_at) = login.await.unwrap();
        assert!(logged_in_at >= released_at);
        assert!(!logged_in, "a user etcd refused logged in");
        // Nothing is left of it: the same statement again is written, and then seen.
        ok(&mut admin, session, "CREATE USER held_user WITH PASSWORD 'p'").await;
        assert!(logs_in(addr, "held_user", "p").await);
    })
    .await;
}
