//! A complete host loop for one [`GraphNode`], in simulated time: a fake in-memory transport
//! (requests reach meta and answers come back after a latency), an in-process [`MetaStore`], a
//! toy password store, a toy parser and a toy executor. One client connects, checks its version,
//! authenticates, says USE, runs a query, shows the local sessions and signs out; then the host
//! sleeps until `poll_timeout` for a few sync rounds. Everything a real host decides is here; the
//! rules live in the node.
//!
//! Run it with `cargo run -p graphsession-core --example graph_node`.
#![expect(clippy::print_stdout, reason = "an example shows its output")]

use std::collections::{BTreeMap, VecDeque};

use graphsession_core::client::ConnectionId;
use graphsession_core::cluster::{Answer, MetaConfig, MetaStore, NodeConfig, Request as ToMeta};
use graphsession_core::node::{
    Config, DataSet, GraphNode, Output, Parts, Reply, Request, SessionStatement, Statement, Value,
};
use graphsession_core::server::{PasswordCheck, QueryStart};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Policy, RoleTable, check_read_current_space};
use graphsession_query_plan::QueryKey;

type Error = Box<dyn std::error::Error>;

/// One way of the fake network.
const LATENCY_MS: u64 = 3;
/// How long the toy executor takes for any query.
const QUERY_MS: u64 = 20;

/// What travels on the fake network, with the time it arrives.
enum Message {
    ToMeta(ToMeta),
    ToNode(Answer),
}

/// The host: everything outside the node, in one struct.
struct Host {
    /// The simulated clock, Unix milliseconds.
    now: u64,
    node: GraphNode,
    meta: MetaStore,
    roles: RoleTable,
    network: VecDeque<(u64, Message)>,
    /// The executor: queries with the time they return.
    executor: Vec<(u64, QueryStart, String)>,
    /// The password store: user -> "hash" (a real host keeps a salted hash).
    passwords: BTreeMap<String, String>,
    /// What was written on each connection, not yet read by its client.
    sockets: BTreeMap<ConnectionId, VecDeque<Reply>>,
}

impl Host {
    fn new(now: u64) -> Result<Host, Error> {
        let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: 1_900_000_000_000 };
        let key = SealKey::from_bytes(*b"from the secrets");
        let session_ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default())?;
        let plan_ids =
            PlanIdGenerator::new(PlanLease { slot: 1, floor_counter: 0, bound_counter: 1 << 30 })?;
        let mut config = Config::default();
        config.server.graph_addr = "graphd-1:9669".to_owned();
        config.sync = NodeConfig { sync_interval_ms: 1_000, ..NodeConfig::default() };
        let node =
            GraphNode::new(config, Parts { session_ids: Box::new(session_ids), plan_ids }, now)?;
        let passwords = BTreeMap::from([("root".to_owned(), hash("nebula"))]);
        Ok(Host {
            now,
            node,
            meta: MetaStore::new(MetaConfig::default())?,
            roles: RoleTable::with_god("root")?,
            network: VecDeque::new(),
            executor: Vec::new(),
            passwords,
            sockets: BTreeMap::new(),
        })
    }

    /// The host's password check: the node never sees a password or its hash.
    fn check_password(&self, user: &str, password: &str) -> PasswordCheck {
        match self.passwords.get(user) {
            Some(stored) if *stored == hash(password) => PasswordCheck::Verified,
            Some(_) => PasswordCheck::Rejected,
            None => PasswordCheck::UnknownUser,
        }
    }

    /// A request decoded on `connection`.
    fn request(&mut self, connection: ConnectionId, request: Request) -> Result<(), Error> {
        self.node.handle_request(self.now, connection, request, &mut self.roles);
        self.drain()
    }

    /// Carries out the node's outputs, in order.
    fn drain(&mut self) -> Result<(), Error> {
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Reply { connection, reply } => {
                    self.sockets.entry(connection).or_default().push_back(reply);
                }
                Output::ToMeta(request) => {
                    let arrives = self.now + LATENCY_MS;
                    self.network.push_back((arrives, Message::ToMeta(request)));
                }
                Output::Run { query, statement, .. } => self.run(query, statement)?,
                Output::SetPassword { user, password } => {
                    self.passwords.insert(user, hash(&password.0));
                }
                Output::ForgetPassword { user } => {
                    self.passwords.remove(&user);
                }
                Output::Event(event) => println!("  [{}] event {event:?}", self.now),
            }
        }
        Ok(())
    }

    /// The toy executor: the permission check on the query's caller first, then the work.
    fn run(&mut self, query: QueryStart, statement: String) -> Result<(), Error> {
        let key = QueryKey { session: query.session, plan: query.plan };
        if let Err(refused) = check_read_current_space(&query.caller, Policy::OPEN) {
            let message = refused.to_string();
            self.node.fail_query(self.now, key, refused.code(), &message, &mut self.roles);
            return self.drain();
        }
        self.executor.push((self.now + QUERY_MS, query, statement));
        Ok(())
    }

    /// When something happens next: the node's timer, meta's, a message, a query's return.
    fn next_wake(&self) -> Option<u64> {
        let network = self.network.iter().map(|(at, _)| *at);
        let executor = self.executor.iter().map(|(at, _, _)| *at);
        let timers = [self.node.poll_timeout(), self.meta.poll_timeout()];
        network.chain(executor).chain(timers.into_iter().flatten()).min()
    }

    /// Sleeps (in simulated time) until the next wake, then does what is due.
    fn step(&mut self) -> Result<(), Error> {
        let Some(wake) = self.next_wake() else { return Ok(()) };
        self.now = self.now.max(wake);
        while let Some(at) = self.network.iter().position(|(arrives, _)| *arrives <= self.now) {
            let Some((_, message)) = self.network.remove(at) else { break };
            match message {
                Message::ToMeta(request) => {
                    let answer = self.meta.handle_request(self.now, self.node.node_id(), request);
                    self.network.push_back((self.now + LATENCY_MS, Message::ToNode(answer)));
                }
                Message::ToNode(answer) => {
                    self.node.handle_answer(self.now, answer, &mut self.roles);
                    self.drain()?;
                }
            }
        }
        while let Some(at) = self.executor.iter().position(|(done, _, _)| *done <= self.now) {
            let (_, query, statement) = self.executor.remove(at);
            let key = QueryKey { session: query.session, plan: query.plan };
            if query.handle.check().is_err() {
                let killed = "Execution had been killed";
                self.node.fail_query(self.now, key, -1005, killed, &mut self.roles);
            } else {
                let mut data = DataSet::with_columns(&["statement"]);
                data.rows.push(vec![Value::Str(statement)]);
                self.node.finish_query(self.now, key, Some(data), &mut self.roles);
            }
            self.drain()?;
        }
        if self.meta.poll_timeout().is_some_and(|at| at <= self.now) {
            let _expired = self.meta.handle_timeout(self.now);
        }
        if self.node.poll_timeout().is_some_and(|at| at <= self.now) {
            self.node.handle_timeout(self.now, &mut self.roles);
            self.drain()?;
        }
        Ok(())
    }

    /// Runs the loop until `connection` has a reply to read (a client blocked on its socket).
    fn read(&mut self, connection: ConnectionId) -> Result<Reply, Error> {
        for _ in 0..1_000 {
            if let Some(reply) = self.sockets.get_mut(&connection).and_then(VecDeque::pop_front) {
                return Ok(reply);
            }
            self.step()?;
        }
        Err(format!("no reply on {connection:?}").into())
    }
}

/// The toy parser: the session statements this example uses, and anything else as a query.
fn parse(text: &str) -> Statement {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["USE", space] => Statement::Session(SessionStatement::Use { space: (*space).to_owned() }),
        ["SHOW", "LOCAL", "SESSIONS"] => {
            Statement::Session(SessionStatement::ShowSessions { local: true })
        }
        _ => Statement::Query { text: text.to_owned() },
    }
}

/// Not a password hash: a real host uses a salted, slow one.
fn hash(password: &str) -> String {
    password.bytes().rev().map(|byte| format!("{byte:02x}")).collect()
}

fn execute(host: &mut Host, conn: ConnectionId, session_id: i64, text: &str) -> Result<(), Error> {
    host.request(conn, Request::Execute { session_id, statement: parse(text) })?;
    let reply = host.read(conn)?;
    match reply {
        Reply::Executed { data: Some(data), .. } => {
            println!("[{}] {text}:", host.now);
            println!("  {}", data.column_names.join(" | "));
            for row in &data.rows {
                let cells: Vec<String> = row.iter().map(|value| format!("{value:?}")).collect();
                println!("  {}", cells.join(" | "));
            }
        }
        reply => println!("[{}] {text} -> {reply:?}", host.now),
    }
    Ok(())
}

fn verify_version(host: &mut Host, conn: ConnectionId) -> Result<(), Error> {
    host.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() })?;
    let reply = host.read(conn)?;
    println!("[{}] verifyClientVersion -> {reply:?}", host.now);
    Ok(())
}

fn login(host: &mut Host, conn: ConnectionId, user: &str, password: &str) -> Result<i64, Error> {
    let password = host.check_password(user, password);
    let (user, client_ip) = (user.to_owned(), "10.0.0.1".to_owned());
    host.request(conn, Request::Authenticate { user, client_ip, password })?;
    let reply = host.read(conn)?;
    println!("[{}] authenticate -> {reply:?} (answered once meta registered it)", host.now);
    match reply {
        Reply::Authenticated { session_id, .. } => Ok(session_id),
        refused => Err(format!("login refused: {refused:?}").into()),
    }
}

fn main() -> Result<(), Error> {
    let mut host = Host::new(1_763_900_000_000)?;
    // Start-up: the node's first round reloads its sessions from meta.
    while !host.node.sync().is_reloaded() {
        host.step()?;
    }
    let conn = ConnectionId(1);
    verify_version(&mut host, conn)?;
    let session_id = login(&mut host, conn, "root", "nebula")?;
    execute(&mut host, conn, session_id, "USE nba")?;
    execute(&mut host, conn, session_id, "GO FROM 1 OVER follow")?;
    execute(&mut host, conn, session_id, "SHOW LOCAL SESSIONS")?;

    // Sign-out is never answered; the next request on the connection waits for meta's ack, so
    // its reply proves the sign-out is durable.
    host.request(conn, Request::SignOut { session_id })?;
    println!("[{}] signout (no reply)", host.now);
    verify_version(&mut host, conn)?;

    // Idle: the host sleeps until poll_timeout, round after round.
    let rounds = host.node.sync_rounds();
    while host.node.sync_rounds() < rounds + 3 {
        host.step()?;
        println!("[{}] woke; next timeout at {:?}", host.now, host.node.poll_timeout());
    }
    host.node.check_invariants()?;
    host.meta.check_invariants()?;
    let (here, at_meta) = (host.node.registry().session_count(), host.meta.live_count());
    println!("sessions here: {here}, at meta: {at_meta}");
    if here != 0 || at_meta != 0 {
        return Err("a session leaked".into());
    }
    Ok(())
}
