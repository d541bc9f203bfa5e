//! Graph nodes (`GraphNode`, the machine graphd runs) against hostile clients and a disorderly
//! transport: one to three nodes and a meta store, connections that verify, authenticate with any
//! name, address and password outcome, execute queries and every session statement with
//! arguments from the fuzzer (ids issued, forged and extreme; names empty, unknown and too long;
//! session variables of any value), sign out, and close at any moment; requests to meta and its
//! answers delivered in any order, dropped or duplicated; queries finished or failed by the
//! executor at any moment; time that jumps past idle, query, wait and request timeouts; a node's
//! registry saved at any moment, and the node restarted from it later (its connections reset).
//!
//! The node must never panic. After every step every machine's invariants hold (the node
//! support's harness checks them at each output drained), no connection gets more replies than
//! it sent requests that are answered (a sign-out never is), and a node's timer is never due
//! again at once after it ran. Once every message is delivered and every wait is past its
//! deadline, each request of a connection still open has had its one reply: nothing waits
//! forever. With small limits, once every client is gone and twice the idle timeout has passed
//! in steps that keep every node in touch with meta, no session is left on any node or at meta:
//! no zombie. A restarted node never serves a session meta had ended before it restarted.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Result, Unstructured};
use graphsession_core::cluster::MetaConfig;
use graphsession_core::node::{Config, Reply, Request, SessionStatement, Statement};
use graphsession_core::server::PasswordCheck;
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Policy, Role};
use graphsession_query_plan::KillTarget;

use super::node_support::{Conn, Harness, REQUEST_TIMEOUT_MS, Setup};
use super::{index, list, weighted, within};

const OPS_MAX: usize = 48;
const CONNECTIONS_MAX: usize = 8;
/// Rounds of the closing phase: deliver everything, let every timer run, return every query.
const SETTLE_ROUNDS: usize = 6;
/// The largest idle timeout whose expiry the run waits out step by step (the small limits').
const ZOMBIE_IDLE_MS_MAX: u64 = 2_000;
/// A step of the wait for idle expiry: half the nodes' sync interval.
const ZOMBIE_STEP_MS: u64 = 500;
const USERS: [&str; 5] = ["root", "alice", "bob", "nobody", "a-name-longer-than-sixteen"];
const IPS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "", "::ffff:203.0.113.7"];
const SPACES: [&str; 4] = ["", "nba", "ldbc", "a space name nobody made"];
const STATEMENTS: [&str; 3] = ["YIELD 1", "GO FROM 1 OVER follow", ""];
const VERSIONS: [&str; 4] = ["3.0.0", "3.8.0", "2.6.0", ""];
const VARIABLES: [&str; 3] = ["query_timeout_ms", "timezone", ""];
const VALUES: [&str; 5] = ["0", "1500", "-1", "abc", "99999999999999999999999"];
const PASSWORDS: [&str; 2] = ["nebula", ""];

/// Whose session an id names: one issued by a node (by position), or one made up.
#[derive(Debug, Clone, Copy)]
enum SessionPick {
    Issued(usize),
    Forged(i64),
}

/// A plan: one of a running query (by position), or one made up.
#[derive(Debug, Clone, Copy)]
enum PlanPick {
    Running(usize),
    Forged(u64),
}

#[derive(Debug, Clone)]
enum Stmt {
    Query(&'static str),
    Use(&'static str),
    ShowSessions(bool),
    ShowSession(SessionPick),
    KillSessions(Vec<SessionPick>),
    ShowQueries(bool),
    KillQuery(Option<SessionPick>, PlanPick),
    Grant(Role, &'static str, &'static str),
    Revoke(Role, &'static str, &'static str),
    CreateUser(&'static str, bool, &'static str),
    DropUser(&'static str, bool),
    AlterUser(&'static str, &'static str),
    Set(&'static str, &'static str),
}

#[derive(Debug, Clone)]
enum Op {
    Connect {
        node: usize,
    },
    Verify {
        conn: usize,
        version: &'static str,
    },
    Authenticate {
        conn: usize,
        user: &'static str,
        ip: &'static str,
        check: PasswordCheck,
    },
    Execute {
        conn: usize,
        session: SessionPick,
        statement: Stmt,
    },
    SignOut {
        conn: usize,
        session: SessionPick,
    },
    Close {
        conn: usize,
    },
    ToMeta {
        at: usize,
    },
    ToNode {
        at: usize,
    },
    DropToMeta {
        at: usize,
    },
    DropToNode {
        at: usize,
    },
    DuplicateToNode {
        at: usize,
    },
    Advance {
        ms: u64,
    },
    Finish {
        at: usize,
    },
    Fail {
        at: usize,
    },
    Settle,
    /// Node `node`'s registry is saved (a host's periodic snapshot), replacing its last one.
    Save {
        node: usize,
    },
    /// Node `node` crashes and a new process starts from its last saved registry, or from its
    /// registry as it is when none was saved (a snapshot taken just before the crash): its
    /// connections reset.
    Restart {
        node: usize,
    },
}

fn pick<T: Copy>(u: &mut Unstructured<'_>, choices: &[T]) -> Result<T> {
    Ok(choices[index(u, choices.len())?])
}

fn session(u: &mut Unstructured<'_>) -> Result<SessionPick> {
    Ok(match weighted(u, &[8, 1, 1])? {
        0 => SessionPick::Issued(within(u, 0_usize..=15)?),
        1 => SessionPick::Forged(pick(u, &[0, -1, 1, i64::MAX, i64::MIN])?),
        _ => SessionPick::Forged(u.arbitrary()?),
    })
}

fn plan(u: &mut Unstructured<'_>) -> Result<PlanPick> {
    Ok(match weighted(u, &[6, 1])? {
        0 => PlanPick::Running(within(u, 0_usize..=7)?),
        _ => PlanPick::Forged(pick(u, &[0, 1, u64::MAX])?),
    })
}

fn role(u: &mut Unstructured<'_>) -> Result<Role> {
    pick(u, &[Role::God, Role::Admin, Role::Dba, Role::User, Role::Guest])
}

fn statement(u: &mut Unstructured<'_>) -> Result<Stmt> {
    Ok(match weighted(u, &[10, 2, 2, 1, 2, 2, 3, 1, 1, 1, 1, 1, 2])? {
        0 => Stmt::Query(pick(u, &STATEMENTS)?),
        1 => Stmt::Use(pick(u, &SPACES)?),
        2 => Stmt::ShowSessions(u.arbitrary()?),
        3 => Stmt::ShowSession(session(u)?),
        4 => Stmt::KillSessions(list(u, 3, session)),
        5 => Stmt::ShowQueries(u.arbitrary()?),
        6 => {
            let of = if u.arbitrary()? { Some(session(u)?) } else { None };
            Stmt::KillQuery(of, plan(u)?)
        }
        7 => Stmt::Grant(role(u)?, pick(u, &SPACES)?, pick(u, &USERS)?),
        8 => Stmt::Revoke(role(u)?, pick(u, &SPACES)?, pick(u, &USERS)?),
        9 => Stmt::CreateUser(pick(u, &USERS)?, u.arbitrary()?, pick(u, &PASSWORDS)?),
        10 => Stmt::DropUser(pick(u, &USERS)?, u.arbitrary()?),
        11 => Stmt::AlterUser(pick(u, &USERS)?, pick(u, &PASSWORDS)?),
        _ => Stmt::Set(pick(u, &VARIABLES)?, pick(u, &VALUES)?),
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    let conn = |u: &mut Unstructured<'_>| within(u, 0_usize..=CONNECTIONS_MAX - 1);
    let at = |u: &mut Unstructured<'_>| within(u, 0_usize..=3);
    Ok(match weighted(u, &[3, 1, 4, 10, 2, 1, 5, 5, 1, 1, 1, 3, 2, 1, 1, 1, 2])? {
        0 => Op::Connect { node: within(u, 0_usize..=2)? },
        1 => Op::Verify { conn: conn(u)?, version: pick(u, &VERSIONS)? },
        2 => {
            let check = pick(
                u,
                &[
                    PasswordCheck::Verified,
                    PasswordCheck::Rejected,
                    PasswordCheck::UnknownUser,
                    PasswordCheck::Skipped,
                ],
            )?;
            Op::Authenticate { conn: conn(u)?, user: pick(u, &USERS)?, ip: pick(u, &IPS)?, check }
        }
        3 => Op::Execute { conn: conn(u)?, session: session(u)?, statement: statement(u)? },
        4 => Op::SignOut { conn: conn(u)?, session: session(u)? },
        5 => Op::Close { conn: conn(u)? },
        6 => Op::ToMeta { at: at(u)? },
        7 => Op::ToNode { at: at(u)? },
        8 => Op::DropToMeta { at: at(u)? },
        9 => Op::DropToNode { at: at(u)? },
        10 => Op::DuplicateToNode { at: at(u)? },
        11 => Op::Advance {
            ms: match weighted(u, &[6, 2, 1])? {
                0 => within(u, 0_u64..=1_500)?,
                1 => within(u, 1_500_u64..=6_000)?,
                _ => within(u, 6_000_u64..=120_000)?,
            },
        },
        12 => Op::Finish { at: at(u)? },
        13 => Op::Fail { at: at(u)? },
        14 => Op::Settle,
        15 => Op::Save { node: within(u, 0_usize..=2)? },
        _ => Op::Restart { node: within(u, 0_usize..=2)? },
    })
}

/// Small limits, so that each is reached: two sessions per (user, ip), four per node, one
/// waiting request per connection, two connections waiting on meta, a 2 s idle timeout (meta's
/// too), a 3 s query timeout, a lockout after two wrong passwords.
fn small_limits(config: &mut Config) {
    config.server.sessions_per_user_ip_max = 2;
    config.server.sessions_max = 4;
    config.server.idle_timeout_ms = 2_000;
    config.server.query_timeout_ms = 3_000;
    config.server.failed_login_attempts = 2;
    config.server.password_lock_time_secs = 1;
    config.waiting_requests_per_connection_max = 1;
    config.waiting_connections_max = 2;
}

/// How the run is set up, from its first bytes.
fn setup(u: &mut Unstructured<'_>) -> Result<Setup> {
    let nodes = within(u, 1_usize..=3)?;
    let policy = if u.arbitrary()? { Policy::OPEN } else { Policy::default() };
    let small = u.arbitrary()?;
    let meta = MetaConfig {
        idle_timeout_ms: if small { 2_000 } else { MetaConfig::default().idle_timeout_ms },
        holder_silence_ms: 5_000,
        ..MetaConfig::default()
    };
    let tune: fn(&mut Config) = if small { small_limits } else { |_| {} };
    Ok(Setup { nodes, meta, policy, tune })
}

/// The run's state beside the harness: its connections and what each asked.
struct Clients {
    conns: Vec<Conn>,
    closed: BTreeSet<Conn>,
    /// Requests each connection sent that are answered (all but sign-outs).
    asked: BTreeMap<Conn, usize>,
    /// Each node's last saved registry.
    saved: BTreeMap<usize, Vec<u8>>,
    /// Sessions a restarted node restored that meta had ended when the process started, by
    /// node, with what the snapshot held of them (last activity, queries run): the node must
    /// not serve them (`restored_zombie`).
    ended_at_start: BTreeMap<(usize, i64), (u64, u64)>,
}

impl Clients {
    /// The open connection at `at` (by position among all), if any.
    fn open(&self, at: usize) -> Option<Conn> {
        let conn = *self.conns.get(at % self.conns.len().max(1))?;
        (!self.closed.contains(&conn)).then_some(conn)
    }
}

/// Every session id a node issued so far, in the order written.
fn issued(h: &Harness) -> Vec<i64> {
    let mut ids = Vec::new();
    for conn in &h.written {
        if let Some(Reply::Authenticated { session_id, .. }) = h.replies(*conn).last() {
            ids.push(*session_id);
        }
    }
    ids.dedup();
    ids
}

fn session_id(h: &Harness, pick: SessionPick) -> i64 {
    match pick {
        SessionPick::Issued(at) => {
            let ids = issued(h);
            ids.get(at % ids.len().max(1)).copied().unwrap_or(1)
        }
        SessionPick::Forged(id) => id,
    }
}

fn plan_id(h: &Harness, pick: PlanPick) -> PlanId {
    match pick {
        PlanPick::Running(at) => h
            .running
            .get(at % h.running.len().max(1))
            .map_or(PlanId::from_u64(1), |run| run.query.plan),
        PlanPick::Forged(id) => PlanId::from_u64(id),
    }
}

fn session_statement(h: &Harness, statement: &Stmt) -> Statement {
    let owned = |text: &str| text.to_owned();
    Statement::Session(match statement {
        Stmt::Query(text) => return Statement::Query { text: owned(text) },
        Stmt::Use(space) => SessionStatement::Use { space: owned(space) },
        Stmt::ShowSessions(local) => SessionStatement::ShowSessions { local: *local },
        Stmt::ShowSession(pick) => {
            SessionStatement::ShowSession { session_id: session_id(h, *pick) }
        }
        Stmt::KillSessions(picks) => SessionStatement::KillSessions {
            session_ids: picks.iter().map(|pick| session_id(h, *pick)).collect(),
        },
        Stmt::ShowQueries(local) => SessionStatement::ShowQueries { local: *local },
        Stmt::KillQuery(of, plan) => {
            let plan = plan_id(h, *plan);
            let target = match of.and_then(|pick| SessionId::new(session_id(h, pick))) {
                Some(session) => KillTarget::Session { session, plan },
                None => KillTarget::CurrentSession { plan },
            };
            SessionStatement::KillQuery { target }
        }
        Stmt::Grant(role, space, user) => {
            SessionStatement::Grant { role: *role, space: owned(space), user: owned(user) }
        }
        Stmt::Revoke(role, space, user) => {
            SessionStatement::Revoke { role: *role, space: owned(space), user: owned(user) }
        }
        Stmt::CreateUser(user, if_not_exists, password) => SessionStatement::CreateUser {
            user: owned(user),
            if_not_exists: *if_not_exists,
            password: owned(password),
        },
        Stmt::DropUser(user, if_exists) => {
            SessionStatement::DropUser { user: owned(user), if_exists: *if_exists }
        }
        Stmt::AlterUser(user, password) => {
            SessionStatement::AlterUser { user: owned(user), password: owned(password) }
        }
        Stmt::Set(name, value) => {
            SessionStatement::SetVariable { name: owned(name), value: owned(value) }
        }
    })
}

/// Applies `op`; a request on a connection not open is skipped (a host never reads one).
fn apply(h: &mut Harness, clients: &mut Clients, op: &Op) {
    let ask = |h: &mut Harness, clients: &mut Clients, conn: usize, request: Request| {
        let Some(conn) = clients.open(conn) else { return };
        let answered = !matches!(request, Request::SignOut { .. });
        *clients.asked.entry(conn).or_default() += usize::from(answered);
        h.request(conn, request);
    };
    match op {
        Op::Connect { node } => {
            if clients.conns.len() < CONNECTIONS_MAX {
                let conn = h.connect(node % h.nodes.len());
                clients.conns.push(conn);
            }
        }
        Op::Verify { conn, version } => {
            let request = Request::VerifyClientVersion { version: (*version).to_owned() };
            ask(h, clients, *conn, request);
        }
        Op::Authenticate { conn, user, ip, check } => {
            let (user, client_ip) = ((*user).to_owned(), (*ip).to_owned());
            ask(h, clients, *conn, Request::Authenticate { user, client_ip, password: *check });
        }
        Op::Execute { conn, session, statement } => {
            let request = Request::Execute {
                session_id: session_id(h, *session),
                statement: session_statement(h, statement),
            };
            ask(h, clients, *conn, request);
        }
        Op::SignOut { conn, session } => {
            ask(h, clients, *conn, Request::SignOut { session_id: session_id(h, *session) });
        }
        Op::Close { conn } => {
            if let Some(conn) = clients.open(*conn) {
                clients.closed.insert(conn);
                h.close(conn);
            }
        }
        Op::ToMeta { at } => h.deliver_one_to_meta(at % h.to_meta.len().max(1)),
        Op::ToNode { at } => h.deliver_one_to_node(at % h.to_nodes.len().max(1)),
        Op::DropToMeta { at } => drop(h.to_meta.remove(at % h.to_meta.len().max(1))),
        Op::DropToNode { at } => drop(h.to_nodes.remove(at % h.to_nodes.len().max(1))),
        Op::DuplicateToNode { at } => {
            if let Some(copy) = h.to_nodes.get(at % h.to_nodes.len().max(1)).cloned() {
                h.to_nodes.push_back(copy);
            }
        }
        Op::Advance { ms } => h.advance(*ms),
        Op::Finish { at } => {
            if let Some(key) = h.running.get(at % h.running.len().max(1)).map(|run| run.key()) {
                h.finish(key, None);
            }
        }
        Op::Fail { at } => {
            if let Some(key) = h.running.get(at % h.running.len().max(1)).map(|run| run.key()) {
                h.fail(key, -1005, "the executor failed");
            }
        }
        Op::Settle => h.settle(),
        Op::Save { node } => {
            let node = node % h.nodes.len();
            clients.saved.insert(node, h.nodes[node].snapshot().to_bytes());
        }
        Op::Restart { node } => restart(h, clients, node % h.nodes.len()),
    }
}

/// Node `node` restarts from its saved registry (or its registry now): its connections reset,
/// and the restored sessions meta had ended are remembered.
fn restart(h: &mut Harness, clients: &mut Clients, node: usize) {
    let snapshot = match clients.saved.get(&node) {
        Some(saved) => saved.clone(),
        None => h.nodes[node].snapshot().to_bytes(),
    };
    for conn in clients.conns.iter().filter(|conn| conn.node == node) {
        if clients.closed.insert(*conn) {
            h.close(*conn);
        }
    }
    h.restart_restored(node, &snapshot);
    clients.ended_at_start.retain(|(at, _), _| *at != node);
    let registry = h.nodes[node].registry();
    for view in registry.cluster_sessions() {
        let Some(stats) = registry.session_stats(view.session.get()) else { continue };
        if h.meta.gone_reason(view.session).is_some() {
            let mark = (stats.last_activity_unix_ms, stats.queries_run);
            clients.ended_at_start.insert((node, view.session.get()), mark);
        }
    }
}

/// No restarted node served a session meta had ended before the process started: while it
/// still holds one, its activity and query count are what the snapshot held.
fn no_restored_zombie(h: &Harness, clients: &Clients, after: &Op) {
    for (&(node, session), &(activity_ms, queries_run)) in &clients.ended_at_start {
        let Some(stats) = h.nodes[node].registry().session_stats(session) else { continue };
        assert!(
            stats.last_activity_unix_ms == activity_ms && stats.queries_run == queries_run,
            "node {node} served session {session}, which meta had ended before the node \
             restarted from its snapshot, after {after:?}: {stats:?}"
        );
    }
}

/// No connection has more replies than requests it sent that are answered.
fn never_unasked(h: &Harness, clients: &Clients, after: &Op) {
    for conn in &clients.conns {
        let (replies, asked) = (h.reply_count(*conn), clients.asked.get(conn).copied());
        assert!(
            replies <= asked.unwrap_or(0),
            "{conn:?} got {replies} replies to {asked:?} requests, after {after:?}: {:?}",
            h.replies(*conn)
        );
    }
}

/// Any bytes: a run of graph nodes; panics only on a broken property.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = setup(&mut u) else { return };
    let ops = list(&mut u, OPS_MAX, op);
    run_ops(setup, &ops);
}

/// The run of `ops` on the nodes `setup` describes.
fn run_ops(setup: Setup, ops: &[Op]) {
    let mut h = Harness::with(setup);
    let mut clients = Clients {
        conns: Vec::new(),
        closed: BTreeSet::new(),
        asked: BTreeMap::new(),
        saved: BTreeMap::new(),
        ended_at_start: BTreeMap::new(),
    };
    for op in ops {
        apply(&mut h, &mut clients, op);
        never_unasked(&h, &clients, op);
        no_restored_zombie(&h, &clients, op);
    }
    // Nothing waits forever: every message delivered, every query returned, every timer past.
    for _ in 0..SETTLE_ROUNDS {
        h.finish_all();
        h.settle();
        h.advance(REQUEST_TIMEOUT_MS + 1);
    }
    h.finish_all();
    h.settle();
    never_unasked(&h, &clients, &Op::Settle);
    for conn in clients.conns.iter().filter(|conn| !clients.closed.contains(conn)) {
        let asked = clients.asked.get(conn).copied().unwrap_or(0);
        assert_eq!(
            h.reply_count(*conn),
            asked,
            "{conn:?} has requests never answered after {ops:?}: {:?}",
            h.replies(*conn)
        );
    }
    // No zombie: every client gone, every session ends by idle expiry, on every node and at
    // meta (nothing may keep one alive: no query runs, no statement waits). Time passes in
    // steps shorter than a sync interval, so every node stays in touch with meta (a jump past
    // `holder_silence_ms` would make meta presume them dead and end what they hold anyway);
    // with the default 8-hour idle timeout that is too many steps, so only small limits judge it.
    if h.meta.config().idle_timeout_ms > ZOMBIE_IDLE_MS_MAX {
        return;
    }
    for conn in &clients.conns {
        if clients.closed.insert(*conn) {
            h.close(*conn);
        }
    }
    let idle_ms = h.meta.config().idle_timeout_ms;
    let steps = (2 * idle_ms + REQUEST_TIMEOUT_MS) / ZOMBIE_STEP_MS + 1;
    for _ in 0..steps {
        h.finish_all();
        h.settle();
        h.advance(ZOMBIE_STEP_MS);
    }
    h.settle();
    let held: Vec<u64> = (0..h.nodes.len()).map(|index| h.held(index)).collect();
    let live = h.meta.live_count();
    assert!(
        held.iter().all(|&held| held == 0) && live == 0,
        "sessions outlive their idle timeout with every client gone: nodes hold {held:?}, \
         meta {live}, after {ops:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alice logs in on node 0 and signs out through node 1; meta has her removal before node 0
    /// hears of it, and node 0 restarts from its registry, which still holds her session. Her
    /// execute on node 0 waits for meta's answer and is answered "Session not existed".
    #[test]
    fn a_restart_holding_a_session_signed_out_elsewhere_never_serves_it() {
        let alice = SessionPick::Issued(0);
        let ops = [
            Op::Connect { node: 0 },
            Op::Authenticate {
                conn: 0,
                user: "alice",
                ip: "10.0.0.1",
                check: PasswordCheck::Verified,
            },
            Op::Settle,
            Op::Connect { node: 1 },
            Op::SignOut { conn: 1, session: alice },
            Op::ToMeta { at: 0 },
            Op::Restart { node: 0 },
            Op::Connect { node: 0 },
            Op::Execute { conn: 2, session: alice, statement: Stmt::Query("YIELD 1") },
            Op::Settle,
        ];
        run_ops(Setup::nodes(2), &ops);
    }
}
