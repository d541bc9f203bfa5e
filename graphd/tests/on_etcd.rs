//! `graphd --meta etcd://...`: three graphd processes share sessions through a real etcd (one
//! member, then a three-member cluster), through faults: `kill -9` of an etcd member, of the
//! etcd leader, of the graphd holding the meta lease and of any graphd, a restart of all of
//! etcd, and a graphd cut from etcd longer than its lease (a proxy between them stopped). After
//! each: every session created is still usable through any live graphd and listed once by SHOW
//! SESSIONS (none lost, none duplicated, none unknown) with the `host:port` of the graphd that
//! owns it (another process's too), no session or plan id was issued
//! twice, and a KILL SESSION and a KILL QUERY from another graphd land within the bound.
//! Every graphd records its run (`--record_events`) and the test what its clients were
//! answered; at the end of each test the simulator's oracles judge the whole record
//! (`graphsession_sim::recorded`: unique ids, one log that every replica applied alike and
//! whose replay keeps meta's invariants after every entry, no session lost, duplicated or
//! leaked, every kill within the bound on every node that held the session).
//! Every graphd seals session ids with the cluster's one key in etcd (a local `seal.key` from
//! the embedded mode is not used), and a malformed key there stops a graphd's start; another
//! idle timeout is refused beside a running graphd and taken once every graphd stopped.
//! Processes and etcd members are stopped by their pids.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]
#![allow(clippy::print_stdout, reason = "the test prints what it measured (README figures)")]
#![expect(
    clippy::disallowed_methods,
    reason = "the seal key test reads a data directory's seal.key"
)]

mod etcd_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etcd_support::etcd::EtcdCluster;
use etcd_support::record::{Record, unix_ms};
use etcd_support::{GraphdProcess, LEASE_TTL_SECS, Proxy, SYNC_INTERVAL_SECS};
use graphsession_id_gen::{Layout, SealKey, SessionIdCodec};
use graphsession_sim::recorded::Recorded;
use support::{Client, Graphd, config, fresh_dir, int, string, within};
use tokio::time::Instant;

/// KILL SESSION takes effect within one sync interval plus five one-way delays (see
/// docs/cluster-protocol.md); a delay here is one etcd commit plus its watch delivery, taken
/// as at most 300 ms on this loopback.
const KILL_BOUND: Duration = Duration::from_millis(SYNC_INTERVAL_SECS * 1_000 + 5 * 300);

/// The graphd processes of a test and what they were asked.
struct World {
    etcd: EtcdCluster,
    url: String,
    prefix: String,
    graphds: Vec<GraphdProcess>,
    /// Every session id any graphd issued.
    issued: BTreeSet<i64>,
    /// Sessions that must be alive, with the graphd that created them.
    live: BTreeMap<i64, usize>,
    /// Every plan id seen (of the queries killed).
    plans: BTreeSet<i64>,
    /// KILL SESSION and KILL QUERY staleness samples, ms.
    kill_ms: Vec<u64>,
    /// The run's record.
    record: Record,
    /// The address of every graphd started.
    addrs: BTreeSet<String>,
}

impl World {
    fn new(etcd: EtcdCluster, prefix: &str, count: usize) -> World {
        let url = etcd.url();
        let (issued, live) = (BTreeSet::new(), BTreeMap::new());
        let (plans, kill_ms, record) = (BTreeSet::new(), Vec::new(), Record::new());
        let prefix = prefix.to_owned();
        let (graphds, addrs) = (Vec::new(), BTreeSet::new());
        let mut world =
            World { etcd, url, prefix, graphds, issued, live, plans, kill_ms, record, addrs };
        for _ in 0..count {
            let url = world.url.clone();
            let graphd = world.spawn(&url);
            world.graphds.push(graphd);
        }
        world
    }

    /// A recording graphd on `url` (the world's etcd, or a proxy to it).
    fn spawn(&mut self, url: &str) -> GraphdProcess {
        let graphd = GraphdProcess::start_with(url, &self.prefix, &[&self.record.flag()]);
        self.addrs.insert(graphd.addr.to_string());
        graphd
    }

    /// Graphd `index` replaced by a new process.
    fn restart(&mut self, index: usize) {
        let url = self.url.clone();
        self.graphds[index] = self.spawn(&url);
    }

    /// `kill -9` of graphd `index`, recorded.
    fn kill9(&mut self, index: usize) {
        self.graphds[index].kill9();
        let process = self.graphds[index].pid;
        self.record.push(Recorded::ProcessStopped { process, at_ms: unix_ms() });
    }

    /// The simulator's oracles over the run's record.
    fn judge(&mut self, name: &str) {
        let live = self.live.keys().copied().collect();
        let bound_ms = u64::try_from(KILL_BOUND.as_millis()).unwrap();
        let verdict = self.record.judge(live, bound_ms);
        let (staleness, queries) = (&verdict.kill_staleness_ms, &verdict.query_kill_staleness_ms);
        println!(
            "{name}: the oracles passed over {} log entries ({} applications), {} session and \
             {} plan ids, {} sessions ended at meta; node staleness ms {staleness:?}, killed \
             queries answered after ms {queries:?}",
            verdict.entries, verdict.applied, verdict.sessions, verdict.plans, verdict.meta_ends
        );
        assert!(!staleness.is_empty() && !queries.is_empty(), "{name}: no kill was judged");
    }

    fn alive(&mut self) -> Vec<usize> {
        (0..self.graphds.len()).filter(|&index| self.graphds[index].running()).collect()
    }

    /// `count` logins on graphd `index`.
    async fn login(&mut self, index: usize, count: usize) -> Vec<i64> {
        let mut client = Client::python(self.graphds[index].addr).await;
        let mut sessions = Vec::new();
        for _ in 0..count {
            let session = client.login("root", "nebula").await;
            self.record.push(Recorded::LoggedIn { session, at_ms: unix_ms() });
            assert!(self.issued.insert(session), "session id {session} issued twice");
            self.live.insert(session, index);
            sessions.push(session);
        }
        sessions
    }

    /// Every live session usable through a live graphd other than its creator when one is
    /// down, and SHOW SESSIONS on every live graphd lists exactly the live sessions, once each.
    async fn check(&mut self, after: &str) {
        println!("checking after {after}");
        let alive = self.alive();
        let live: Vec<(i64, usize)> = self.live.iter().map(|(s, g)| (*s, *g)).collect();
        for (turn, (session, creator)) in live.into_iter().enumerate() {
            let index = if alive.contains(&creator) { creator } else { alive[turn % alive.len()] };
            let mut client = Client::node_js(self.graphds[index].addr).await;
            let reply = client.execute(session, "YIELD 1").await;
            assert_eq!(
                reply.code(),
                0,
                "after {after}: session {session} lost ({})",
                reply.message()
            );
        }
        for &index in &alive {
            let admin = self.login(index, 1).await[0];
            let started = Instant::now();
            loop {
                let mut client = Client::python(self.graphds[index].addr).await;
                let rows = client.execute(admin, "SHOW SESSIONS").await.ok().rows().to_vec();
                let listed: Vec<i64> = rows.iter().map(|row| int(&row[0])).collect();
                let at_ms = unix_ms();
                self.record.push(Recorded::Listed { sessions: listed.clone(), at_ms });
                let distinct: BTreeSet<i64> = listed.iter().copied().collect();
                assert_eq!(distinct.len(), listed.len(), "after {after}: a session listed twice");
                let expected: BTreeSet<i64> = self.live.keys().copied().collect();
                if distinct == expected {
                    // GraphAddr: the graphd that owns each session, another process's too.
                    for row in &rows {
                        let addr = string(&row[5]);
                        assert!(self.addrs.contains(&addr), "after {after}: GraphAddr {addr}");
                    }
                    break;
                }
                assert!(
                    distinct.is_subset(&self.issued),
                    "after {after}: a session nobody created"
                );
                let waited = started.elapsed();
                assert!(
                    waited < Duration::from_secs(5),
                    "after {after}: SHOW SESSIONS {distinct:?} != {expected:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.kill_lands(after).await;
        self.kill_query_lands(after).await;
    }

    /// A query running on one live graphd killed by KILL QUERY from another: its client is
    /// told "Execution had been killed" within [`KILL_BOUND`]; no plan id seen twice.
    async fn kill_query_lands(&mut self, after: &str) {
        let alive = self.alive();
        let (holder, killer) = (alive[alive.len() - 1], alive[0]);
        let session = self.login(holder, 1).await[0];
        let mut runner = Client::python(self.graphds[holder].addr).await;
        let running =
            tokio::spawn(async move { runner.execute(session, "YIELD graphd_sleep(20000)").await });
        // SHOW QUERIES lists every node's queries: the killer's graphd lists the holder's
        // plan as the holder reported it through etcd.
        let viewer = self.login(killer, 1).await[0];
        let mut client = Client::python(self.graphds[killer].addr).await;
        let mut plan = None;
        for _ in 0..200 {
            let rows = client.execute(viewer, "SHOW QUERIES").await.ok().rows().to_vec();
            plan = rows.iter().find(|row| int(&row[0]) == session).map(|row| int(&row[1]));
            if plan.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let plan = plan.expect("the query never showed");
        assert!(self.plans.insert(plan), "after {after}: plan id {plan} issued twice");
        let admin = self.login(killer, 1).await[0];
        let mut killing = Client::node_js(self.graphds[killer].addr).await;
        let kill = format!("KILL QUERY (session={session}, plan={plan})");
        killing.execute(admin, &kill).await.ok();
        let killed_at = Instant::now();
        let reply = tokio::time::timeout(KILL_BOUND, running).await;
        let reply = reply.unwrap_or_else(|_| {
            panic!("after {after}: KILL QUERY did not land within {KILL_BOUND:?}")
        });
        let reply = reply.unwrap();
        let (plan, code, at_ms) = (u64::try_from(plan).unwrap(), reply.code(), unix_ms());
        self.record.push(Recorded::QueryAnswered { session, plan, code, at_ms });
        assert_eq!(
            (reply.code(), reply.message()),
            (-1005, "Execution had been killed"),
            "after {after}"
        );
        self.kill_ms.push(u64::try_from(killed_at.elapsed().as_millis()).unwrap());
    }

    /// A session on one live graphd killed from another: its next statement fails with -1002
    /// within [`KILL_BOUND`].
    async fn kill_lands(&mut self, after: &str) {
        let alive = self.alive();
        let (holder, killer) = (alive[0], alive[alive.len() - 1]);
        let victim = self.login(holder, 1).await[0];
        let admin = self.login(killer, 1).await[0];
        let mut user = Client::python(self.graphds[holder].addr).await;
        user.execute(victim, "YIELD 1").await.ok();
        let mut client = Client::node_js(self.graphds[killer].addr).await;
        let killed = client.execute(admin, &format!("KILL SESSION {victim}")).await;
        assert_eq!(int(&killed.ok().rows()[0][0]), 1, "after {after}: meta did not remove it");
        self.record.push(Recorded::KilledByClient { session: victim, at_ms: unix_ms() });
        self.live.remove(&victim);
        let killed_at = Instant::now();
        loop {
            let reply = user.execute(victim, "YIELD 1").await;
            if reply.code() == -1002 {
                break;
            }
            reply.ok();
            assert!(
                killed_at.elapsed() < KILL_BOUND,
                "after {after}: the kill did not land within {KILL_BOUND:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill_ms.push(u64::try_from(killed_at.elapsed().as_millis()).unwrap());
    }

    /// The live graphd whose process lease holds the leader key (not `excluded`).
    async fn leader(&mut self, excluded: Option<usize>) -> usize {
        let mut client = etcd_client::Client::connect(self.etcd.endpoints(), None).await.unwrap();
        let key = format!("{}leader", self.prefix);
        for _ in 0..100 {
            let found = client.get(key.clone(), None).await.unwrap();
            if let Some(kv) = found.kvs().first() {
                let lease = kv.value_str().unwrap().to_owned();
                let needle = format!("lease {lease}");
                let found = self.graphds.iter().position(|graphd| graphd.log().contains(&needle));
                if let Some(index) = found.filter(|&index| Some(index) != excluded) {
                    return index;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no leader");
    }

    /// Every session signed out through KILL SESSION: SHOW SESSIONS is left with the admin's.
    async fn nothing_leaks(&mut self) {
        let index = self.alive()[0];
        let admin = self.login(index, 1).await[0];
        let mut client = Client::python(self.graphds[index].addr).await;
        let others: Vec<i64> =
            self.live.keys().copied().filter(|&session| session != admin).collect();
        for session in others {
            let killed = client.execute(admin, &format!("KILL SESSION {session}")).await;
            if int(&killed.ok().rows()[0][0]) == 1 {
                self.record.push(Recorded::KilledByClient { session, at_ms: unix_ms() });
            }
            self.live.remove(&session);
        }
        let rows = client.execute(admin, "SHOW SESSIONS").await.ok().rows().to_vec();
        let listed: Vec<i64> = rows.iter().map(|row| int(&row[0])).collect();
        assert_eq!(listed, [admin], "sessions left behind");
    }

    fn report(&self, name: &str) {
        let mut samples = self.kill_ms.clone();
        samples.sort_unstable();
        println!(
            "{name}: KILL SESSION and KILL QUERY staleness ms {samples:?} (bound {} ms)",
            KILL_BOUND.as_millis()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_graphd_on_one_etcd_share_sessions_through_graphd_deaths_and_an_etcd_restart() {
    within(150, async {
        let mut world = World::new(EtcdCluster::start(1), "/one/", 3);
        for index in 0..3 {
            world.login(index, 4).await;
        }
        world.check("start").await;
        let leader = world.leader(None).await;
        let killed_at = Instant::now();
        world.kill9(leader);
        let next = world.leader(Some(leader)).await;
        println!("fail-over: a new leader {:?} after the leader's kill -9", killed_at.elapsed());
        assert_ne!(next, leader);
        world.check("kill -9 of the graphd holding the meta lease").await;
        world.restart(leader);
        world.login(leader, 2).await;
        let any = (next + 1) % 3;
        world.kill9(any);
        world.check("kill -9 of a graphd").await;
        world.restart(any);
        world.etcd.kill(0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        world.etcd.restart(0);
        world.check("a restart of etcd").await;
        world.nothing_leaks().await;
        world.report("one etcd");
        world.judge("one etcd");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_graphd_on_three_etcd_members_survive_member_and_leader_deaths() {
    within(150, async {
        let mut world = World::new(EtcdCluster::start(3), "/three/", 3);
        for index in 0..3 {
            world.login(index, 3).await;
        }
        world.check("start").await;
        let mut admin = etcd_client::Client::connect(world.etcd.endpoints(), None).await.unwrap();
        let status = admin.status().await.unwrap();
        let members = admin.member_list().await.unwrap();
        let leader_name =
            members.members().iter().find(|m| m.id() == status.leader()).unwrap().name().to_owned();
        let leader: usize = leader_name.trim_start_matches('m').parse::<usize>().unwrap() - 1;
        let follower = (leader + 1) % 3;
        world.etcd.kill(follower);
        world.check("kill -9 of an etcd member").await;
        world.etcd.restart(follower);
        // The leader of a healthy cluster: the restarted member has caught up.
        world.etcd.wait_healthy();
        world.etcd.kill(leader);
        world.check("kill -9 of the etcd leader").await;
        world.etcd.restart(leader);
        for member in 0..3 {
            world.etcd.kill(member);
        }
        for member in 0..3 {
            world.etcd.restart(member);
        }
        world.check("a restart of all of etcd").await;
        world.nothing_leaks().await;
        world.report("three etcd members");
        world.judge("three etcd members");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graphd_cut_from_etcd_longer_than_its_lease_stops_and_its_sessions_live_on() {
    within(90, async {
        let etcd = EtcdCluster::start(1);
        let target = etcd.endpoints()[0].trim_start_matches("http://").parse().unwrap();
        let proxy = Proxy::start(target).await;
        let mut world = World::new(etcd, "/cut/", 2);
        let cut = world.spawn(&format!("etcd://{}", proxy.addr()));
        world.graphds.push(cut);
        world.login(0, 2).await;
        let cut_sessions = world.login(2, 3).await;
        world.check("start").await;
        proxy.stop().await;
        let cut_at = Instant::now();
        // It gives its lease up after twice the TTL without a renewal (plus a call timeout),
        // then stops.
        let deadline = Duration::from_secs(2 * LEASE_TTL_SECS + 15);
        loop {
            if let Some(status) = world.graphds[2].exited() {
                assert!(!status.success(), "a fenced graphd exits with an error");
                let process = world.graphds[2].pid;
                world.record.push(Recorded::ProcessStopped { process, at_ms: unix_ms() });
                break;
            }
            assert!(
                cut_at.elapsed() < deadline,
                "still serving after its lease: {}",
                world.graphds[2].log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("cut graphd stopped {:?} after the cut", cut_at.elapsed());
        assert!(world.graphds[2].log().contains("lost"), "{}", world.graphds[2].log());
        for session in &cut_sessions {
            assert!(world.live.contains_key(session));
        }
        world.check("a graphd cut from etcd longer than its lease").await;
        world.nothing_leaks().await;
        world.report("cut");
        world.judge("cut");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graphd_of_two_nodes_on_etcd_shares_sessions_with_another_graphd() {
    within(60, async {
        let etcd = EtcdCluster::start(1);
        let two = GraphdProcess::start_with(&etcd.url(), "/two/", &["--nodes=2"]);
        let one = GraphdProcess::start(&etcd.url(), "/two/");
        // The ports are bound before the log names them: wait for the line.
        let mut log = two.log();
        for _ in 0..100 {
            if log.contains("node 2 listening on ") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            log = two.log();
        }
        let listening =
            log.lines().find_map(|line| line.strip_prefix("graphd: node 2 listening on "));
        let second_node: std::net::SocketAddr = listening.unwrap().parse().unwrap();
        let mut first = Client::python(two.addr).await;
        let session = first.login("root", "nebula").await;
        first.execute(session, "YIELD 1").await.ok();
        // Used through the process's other node and through the other process: picked up.
        for addr in [second_node, one.addr] {
            let mut client = Client::node_js(addr).await;
            client.execute(session, "YIELD 1").await.ok();
        }
        assert!(log.contains("slots [1, 2]"), "{log}");
        let mut admin = Client::python(one.addr).await;
        let admin_session = admin.login("root", "nebula").await;
        let rows = admin.execute(admin_session, "SHOW SESSIONS").await.ok().rows().to_vec();
        let listed: BTreeSet<i64> = rows.iter().map(|row| int(&row[0])).collect();
        assert_eq!(listed, BTreeSet::from([session, admin_session]));
    })
    .await;
}

/// The key a data directory's `seal.key` holds (the envelope's JSON body after its header).
fn local_seal_key(file: &std::path::Path) -> SealKey {
    let text = std::fs::read_to_string(file).unwrap();
    let body: serde_json::Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    SealKey::from_hex(body["key_hex"].as_str().unwrap().as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graphd_seals_with_the_clusters_one_key_and_a_malformed_key_stops_the_start() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        // A data directory from the embedded mode, with a key of its own (a migration).
        let old = fresh_dir("seal-old");
        Graphd::start(config(&old)).await.stop().await;
        let old_file = std::fs::read(old.join("seal.key")).unwrap();
        let old_key = local_seal_key(&old.join("seal.key"));
        let first = GraphdProcess::start(&etcd.url(), "/seal/");
        let data = format!("--data_path={}", old.display());
        let migrated = GraphdProcess::start_with(&etcd.url(), "/seal/", &[&data]);
        assert!(migrated.log().contains("seal.key is not used with meta in etcd"));
        let mut admin = etcd_client::Client::connect(etcd.endpoints(), None).await.unwrap();
        let stored = admin.get("/seal/seal-key", None).await.unwrap();
        let cluster_key = SealKey::from_hex(stored.kvs()[0].value()).unwrap();
        assert_ne!(cluster_key, old_key);
        let codec = |key| SessionIdCodec::sealed(Layout::SESSION, key);
        let mut issued = BTreeSet::new();
        let mut slots = Vec::new();
        let mut migrated_ids = Vec::new();
        for graphd in [&first, &migrated] {
            let mut client = Client::python(graphd.addr).await;
            let mut opened = BTreeSet::new();
            migrated_ids.clear();
            for _ in 0..100 {
                let session = client.login("root", "nebula").await;
                assert!(issued.insert(session), "session id {session} issued twice");
                opened.insert(codec(cluster_key).open(session).unwrap().slot);
                migrated_ids.push(session);
            }
            // Every id opens with the cluster's key to the graphd's one slot.
            assert_eq!(opened.len(), 1, "ids of one graphd open to slots {opened:?}");
            slots.extend(opened);
        }
        assert_ne!(slots[0], slots[1], "two graphd opened to one slot");
        // The old local key opens the migrated graphd's ids to random slots (about 1 in 1,024
        // to its own: the check above can fail), and its file is left as it was; the first
        // graphd wrote none.
        let stale = migrated_ids
            .iter()
            .filter(|&&id| codec(old_key).open(id).is_ok_and(|d| d.slot == slots[1]));
        assert!(stale.count() < 50, "the old local key opened the ids");
        assert_eq!(std::fs::read(old.join("seal.key")).unwrap(), old_file);
        assert!(!first.data_dir().join("seal.key").exists());
        // A malformed key in etcd: graphd exits with the key named, before it serves.
        admin.put("/seal-bad/seal-key", "not a seal key", None).await.unwrap();
        let (status, log) = GraphdProcess::refused(&etcd.url(), "/seal-bad/");
        assert!(!status.success(), "{log}");
        assert!(log.contains("the seal key at /seal-bad/seal-key is malformed"), "{log}");
        let slots_taken = etcd_client::GetOptions::new().with_prefix().with_count_only();
        assert_eq!(admin.get("/seal-bad/slots/", Some(slots_taken)).await.unwrap().count(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_idle_timeout_is_refused_beside_a_running_graphd_and_taken_once_all_stopped() {
    within(120, async {
        let etcd = EtcdCluster::start(1);
        let mut first = GraphdProcess::start(&etcd.url(), "/settings/");
        let mut client = Client::python(first.addr).await;
        let session = client.login("root", "nebula").await;
        // Beside a running graphd, other settings would make the replicas diverge: refused,
        // naming the setting.
        let shorter = "--session_idle_timeout_secs=600";
        let (status, log) = GraphdProcess::refused_with(&etcd.url(), "/settings/", &[shorter]);
        assert!(!status.success(), "{log}");
        assert!(
            log.contains("idle_timeout_ms: the cluster 28800000, this process 600000"),
            "{log}"
        );
        drop(client);
        let status = first.terminate().unwrap();
        assert!(status.success(), "a clean stop: {status}\n{}", first.log());
        // Every graphd stopped: the first with the new setting changes the cluster, and the
        // session lives on.
        let second = GraphdProcess::start_with(&etcd.url(), "/settings/", &[shorter]);
        let mut admin = etcd_client::Client::connect(etcd.endpoints(), None).await.unwrap();
        let stored = admin.get("/settings/config", None).await.unwrap();
        let record: serde_json::Value = serde_json::from_slice(stored.kvs()[0].value()).unwrap();
        assert_eq!(record["meta"]["idle_timeout_ms"], 600_000);
        let mut client = Client::python(second.addr).await;
        let own = client.login("root", "nebula").await;
        let rows = client.execute(own, "SHOW SESSIONS").await.ok().rows().to_vec();
        let listed: BTreeSet<i64> = rows.iter().map(|row| int(&row[0])).collect();
        assert!(listed.contains(&session), "{session} not in {listed:?}");
    })
    .await;
}
