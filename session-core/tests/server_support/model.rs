//! The server registry's reference model (a `BTreeMap` of sessions and the rules of the
//! reference, single-threaded and obviously correct) and the [`Harness`] that drives the real
//! `SessionManager` next to it: [`Harness::step`] asserts that every result matches,
//! [`Harness::compare`] that the observable state matches and `check_invariants()` holds. Shared
//! by `server_model.rs` (proptest) and the fuzz target `session_manager` (included with `#[path]`).

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::server::{
    ClusterEnd, Config, InstalledSession, Login, PasswordCheck, ServerError, SessionManager,
};
use graphsession_id_gen::{
    PlanId, PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
    SessionLease,
};
use graphsession_permission::{Caller, Policy, Role, RoleTable};
use graphsession_query_plan::{KillOutcome, KillTarget, QueryKey, QueryOutcome};

const START: u64 = 1_763_900_000_000;
const IDLE_MS: u64 = 1_000;
const LIMIT: u32 = 2;
const SESSIONS_MAX: u64 = 6;
const USERS: [&str; 3] = ["root", "alice", "bob"];
const IPS: [&str; 2] = ["10.0.0.1", "10.0.0.2"];
const SPACES: [&str; 2] = ["nba", "ldbc"];
const VARIABLES_MAX: usize = 2;

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Login {
        user: usize,
        ip: usize,
    },
    Touch(u16),
    Begin(u16),
    Finish(u16),
    Use {
        session: u16,
        space: usize,
    },
    SetVariable {
        session: u16,
        name: usize,
    },
    SignOut(u16),
    KillSession {
        by_root: bool,
        target: u16,
    },
    KillQuery {
        by: usize,
        query: u16,
    },
    Grant {
        user: usize,
        space: usize,
        role: usize,
    },
    Revoke {
        user: usize,
        space: usize,
    },
    Clock {
        step_ms: i64,
    },
    Timeout,
    /// A session from the cluster: id `INSTALLED_ID_BASE + id`, last active `idle_ms` ago,
    /// in `space` (an index past `SPACES` for none).
    Install {
        id: u8,
        user: usize,
        ip: usize,
        space: usize,
        idle_ms: u16,
    },
    AdoptSpace {
        session: u16,
        space: usize,
        offset_ms: i64,
    },
    EndFromCluster {
        session: u16,
        expired: bool,
    },
    KillFromCluster(u16),
}

/// Installed sessions' ids: far below the sealed ids the generator issues.
pub(crate) const INSTALLED_ID_BASE: i64 = 1_000;

#[derive(Debug, Clone)]
struct ModelSession {
    user: &'static str,
    ip: &'static str,
    space: Option<&'static str>,
    space_set_ms: u64,
    created_ms: u64,
    last_ms: u64,
    variables: BTreeSet<&'static str>,
    /// Running plans, and whether a kill was requested.
    running: BTreeMap<PlanId, bool>,
}

/// The reference model.
struct Model {
    sessions: BTreeMap<i64, ModelSession>,
    newest_ms: u64,
}

impl Model {
    fn observe(&mut self, wall_ms: u64) -> u64 {
        // The registry's clock stops at NOW_UNIX_MS_MAX (the year 2527).
        let wall_ms = wall_ms.min(graphsession_core::server::NOW_UNIX_MS_MAX);
        self.newest_ms = self.newest_ms.max(wall_ms);
        self.newest_ms
    }

    fn user_ip_count(&self, user: &str, ip: &str) -> u32 {
        let count = self.sessions.values().filter(|s| s.user == user && s.ip == ip).count();
        u32::try_from(count).unwrap()
    }

    /// Find + touch as the real execute path does it: errors for 0 and unknown ids.
    fn find(&mut self, id: i64, now: u64) -> Result<&mut ModelSession, i32> {
        if id == 0 {
            return Err(-1002);
        }
        let session = self.sessions.get_mut(&id).ok_or(-1002)?;
        session.last_ms = session.last_ms.max(now);
        Ok(session)
    }
}

pub(crate) struct Harness {
    pub(crate) real: SessionManager,
    model: Model,
    table: RoleTable,
    wall_ms: u64,
    ids: Vec<i64>,
    queries: Vec<(SessionId, PlanId)>,
}

fn manager() -> SessionManager {
    let lease = SessionLease { slot: 5, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    let ids =
        SessionIdGenerator::new(lease, SealKey::from_bytes([1; 16]), SessionIdConfig::default());
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 5, floor_counter: 0, bound_counter: 1 << 40 });
    let config = Config {
        idle_timeout_ms: IDLE_MS,
        sessions_per_user_ip_max: i64::from(LIMIT),
        sessions_max: SESSIONS_MAX,
        policy: Policy::ENFORCED,
        shard_count: 4,
        variables_per_session_max: 2,
        ..Config::default()
    };
    SessionManager::new(config, ids.unwrap(), plans.unwrap()).unwrap()
}

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    for user in &USERS[1..] {
        table.create_user(&root, Policy::ENFORCED, user).unwrap();
    }
    table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice").unwrap();
    table
}

fn code<T, E: Clone + Into<ServerError>>(result: &Result<T, E>) -> Result<(), i32> {
    result.as_ref().map(|_| ()).map_err(|error| error.clone().into().code())
}

impl Harness {
    pub(crate) fn new() -> Harness {
        Harness {
            real: manager(),
            model: Model { sessions: BTreeMap::new(), newest_ms: 0 },
            table: table(),
            wall_ms: START,
            ids: vec![0, 42],
            queries: Vec::new(),
        }
    }

    fn pick(&self, index: u16) -> i64 {
        self.ids[usize::from(index) % self.ids.len()]
    }

    pub(crate) fn step(&mut self, op: &Op) {
        let wall = self.wall_ms;
        match op {
            Op::Login { user, ip } => self.login(USERS[*user], IPS[*ip]),
            Op::Touch(index) => {
                let id = self.pick(*index);
                let now = self.model.observe(wall);
                let expected = self.model.find(id, now).map(|_| ());
                assert_eq!(code(&self.real.touch(wall, id)), expected);
            }
            Op::Begin(index) => self.begin(self.pick(*index)),
            Op::Finish(index) => self.finish(*index),
            Op::Use { session, space } => self.use_space(self.pick(*session), SPACES[*space]),
            Op::SetVariable { session, name } => {
                let id = self.pick(*session);
                let name = ["a", "b", "c"][*name];
                let now = self.model.observe(wall);
                let result = self.real.set_variable(wall, id, name, "value");
                let expected = self.model.find(id, now).and_then(|session| {
                    let full = session.variables.len() >= VARIABLES_MAX;
                    if full && !session.variables.contains(name) {
                        return Err(-1005);
                    }
                    session.variables.insert(name);
                    Ok(())
                });
                assert_eq!(code(&result), expected);
            }
            Op::SignOut(index) => {
                let id = self.pick(*index);
                self.model.observe(wall);
                let expected = self.model.sessions.remove(&id).is_some();
                assert_eq!(self.real.sign_out(wall, id), expected);
            }
            Op::KillSession { by_root, target } => self.kill_session(*by_root, self.pick(*target)),
            Op::KillQuery { by, query } => self.kill_query(USERS[*by], *query),
            Op::Grant { user, space, role } => {
                let roles = [Role::Admin, Role::Dba, Role::User, Role::Guest];
                let root = Caller::resolve(&self.table, "root", None);
                let _ = self.table.grant(
                    &root,
                    Policy::ENFORCED,
                    roles[*role],
                    SPACES[*space],
                    USERS[*user],
                );
            }
            Op::Revoke { user, space } => {
                let root = Caller::resolve(&self.table, "root", None);
                if let Some(role) = self.table.role_of(USERS[*user], SPACES[*space]) {
                    self.table
                        .revoke(&root, Policy::ENFORCED, role, SPACES[*space], USERS[*user])
                        .unwrap();
                }
            }
            Op::Clock { step_ms } => self.wall_ms = self.wall_ms.saturating_add_signed(*step_ms),
            Op::Timeout => self.timeout(),
            Op::Install { id, user, ip, space, idle_ms } => {
                let space = SPACES.get(*space).copied();
                let id = INSTALLED_ID_BASE + i64::from(*id);
                self.install(id, USERS[*user], IPS[*ip], space, u64::from(*idle_ms));
            }
            Op::AdoptSpace { session, space, offset_ms } => {
                let id = self.pick(*session);
                let at_ms = self.model.newest_ms.saturating_add_signed(*offset_ms);
                self.adopt_space(id, SPACES[*space], at_ms);
            }
            Op::EndFromCluster { session, expired } => {
                // Meta names only real ids (0 is the ping id).
                let Some(id) = SessionId::new(self.pick(*session)) else { return };
                let end = if *expired { ClusterEnd::Expired } else { ClusterEnd::EndedElsewhere };
                self.model.observe(wall);
                let expected = self.model.sessions.remove(&id.get()).is_some();
                assert_eq!(self.real.end_from_cluster(wall, id, end), expected);
            }
            Op::KillFromCluster(index) => self.kill_from_cluster(*index),
        }
    }

    /// No limit but the node's `sessions_max`; times clamped to the node's newest.
    fn install(
        &mut self,
        id: i64,
        user: &'static str,
        ip: &'static str,
        space: Option<&'static str>,
        idle_ms: u64,
    ) {
        if self.ids.contains(&id) && !self.model.sessions.contains_key(&id) {
            return; // Ended here: meta's tombstone keeps it from coming back.
        }
        let now = self.model.observe(self.wall_ms);
        // Reported by a node whose clock may be ahead (idle_ms < 500 puts it in the future).
        let last_ms = (now + 500).saturating_sub(idle_ms);
        let install = InstalledSession {
            session: SessionId::new(id).unwrap(),
            user,
            client_ip: ip,
            space: space.unwrap_or(""),
            space_set_unix_ms: last_ms.saturating_sub(7),
            created_unix_ms: last_ms.saturating_sub(100),
            last_activity_unix_ms: last_ms,
        };
        let result = self.real.install_session(self.wall_ms, install, &self.table);
        let expected = if self.model.sessions.contains_key(&id) {
            Ok(false)
        } else if self.model.sessions.len() as u64 >= SESSIONS_MAX {
            Err(-1010)
        } else {
            Ok(true)
        };
        assert_eq!(result.clone().map_err(|error| error.code()), expected);
        if result == Ok(true) {
            let last_ms = last_ms.min(now);
            let session = ModelSession {
                user,
                ip,
                space,
                space_set_ms: if space.is_some() { install.space_set_unix_ms } else { 0 },
                created_ms: install.created_unix_ms.min(last_ms),
                last_ms,
                variables: BTreeSet::new(),
                running: BTreeMap::new(),
            };
            self.model.sessions.insert(id, session);
            self.ids.push(id);
        }
    }

    /// Last writer wins on (time, space); not activity.
    fn adopt_space(&mut self, id: i64, space: &'static str, at_ms: u64) {
        let expected = self.model.sessions.get_mut(&id).is_some_and(|session| {
            let newer = (at_ms, space) > (session.space_set_ms, session.space.unwrap_or(""));
            if newer {
                (session.space, session.space_set_ms) = (Some(space), at_ms);
            }
            newer
        });
        let actual = SessionId::new(id).is_some_and(|id| self.real.adopt_space(id, space, at_ms));
        assert_eq!(actual, expected);
    }

    /// Kills a running query not killed yet; no caller check.
    fn kill_from_cluster(&mut self, index: u16) {
        if self.queries.is_empty() {
            return;
        }
        let (session, plan) = self.queries[usize::from(index) % self.queries.len()];
        let expected = (self.model.sessions.get_mut(&session.get()))
            .and_then(|model| model.running.get_mut(&plan))
            .is_some_and(|killed| !std::mem::replace(killed, true));
        assert_eq!(self.real.kill_from_cluster(QueryKey { session, plan }, "root"), expected);
    }

    fn login(&mut self, user: &'static str, ip: &'static str) {
        let now = self.model.observe(self.wall_ms);
        let login = Login { user, client_ip: ip, password: PasswordCheck::Verified };
        let result = self.real.login(self.wall_ms, login, &self.table);
        let expected = if self.model.sessions.len() as u64 >= SESSIONS_MAX {
            Err(-1010)
        } else if self.model.user_ip_count(user, ip) >= LIMIT {
            Err(-1002)
        } else {
            Ok(())
        };
        assert_eq!(code(&result), expected);
        if let Ok(id) = result {
            let session = ModelSession {
                user,
                ip,
                space: None,
                space_set_ms: 0,
                created_ms: now,
                last_ms: now,
                variables: BTreeSet::new(),
                running: BTreeMap::new(),
            };
            assert!(self.model.sessions.insert(id.get(), session).is_none(), "ids are unique");
            self.ids.push(id.get());
        }
    }

    fn begin(&mut self, id: i64) {
        let now = self.model.observe(self.wall_ms);
        let result = self.real.begin_query(self.wall_ms, id, "GO FROM 1 OVER e", &self.table);
        let table = &self.table;
        let expected = self
            .model
            .find(id, now)
            .map(|session| session.space.and_then(|space| table.role_of(session.user, space)));
        assert_eq!(
            result.as_ref().map(|start| start.caller.current_role()).map_err(ServerError::code),
            expected
        );
        if let Ok(start) = result {
            self.model.sessions.get_mut(&id).unwrap().running.insert(start.plan, false);
            self.queries.push((start.session, start.plan));
        }
    }

    fn finish(&mut self, index: u16) {
        if self.queries.is_empty() {
            return;
        }
        let (session, plan) = self.queries[usize::from(index) % self.queries.len()];
        let now = self.model.observe(self.wall_ms);
        let result = self.real.finish_query(self.wall_ms, session, plan);
        let expected = match self.model.sessions.get_mut(&session.get()) {
            None => Err(-2069),
            Some(model) => match model.running.remove(&plan) {
                None => Err(-2073),
                Some(killed) => {
                    model.last_ms = model.last_ms.max(now);
                    Ok(killed)
                }
            },
        };
        let actual =
            result.map(|outcome| matches!(outcome, QueryOutcome::Killed(_))).map_err(|e| e.code());
        assert_eq!(actual, expected);
    }

    fn use_space(&mut self, id: i64, space: &'static str) {
        let now = self.model.observe(self.wall_ms);
        let result = self.real.use_space(self.wall_ms, id, space, &self.table);
        let table = &self.table;
        let expected = self.model.find(id, now).and_then(|session| {
            let allowed =
                table.is_god_user(session.user) || table.role_of(session.user, space).is_some();
            if !allowed {
                return Err(-1008);
            }
            session.space = Some(space);
            session.space_set_ms = now.max(session.space_set_ms + 1);
            Ok(())
        });
        assert_eq!(code(&result), expected);
    }

    fn kill_session(&mut self, by_root: bool, target: i64) {
        self.model.observe(self.wall_ms);
        let caller = Caller::resolve(&self.table, if by_root { "root" } else { "alice" }, None);
        let result = self.real.kill_sessions(self.wall_ms, &caller, &[target]);
        let expected = if by_root {
            Ok(u32::from(self.model.sessions.remove(&target).is_some()))
        } else {
            Err(-1008)
        };
        assert_eq!(result.map_err(|e| e.code()), expected);
    }

    fn kill_query(&mut self, by: &str, index: u16) {
        if self.queries.is_empty() {
            return;
        }
        let (session, plan) = self.queries[usize::from(index) % self.queries.len()];
        let caller = Caller::resolve(&self.table, by, None);
        let target = KillTarget::Session { session, plan };
        let result = self.real.kill_query(&caller, session, target);
        let expected = match self.model.sessions.get_mut(&session.get()) {
            None => Err(-2069),
            Some(model) if by != "root" && by != model.user => Err(-1008),
            Some(model) => match model.running.get_mut(&plan) {
                None => Err(-2073),
                Some(killed) => Ok(std::mem::replace(killed, true)),
            },
        };
        let actual = result.map(|outcome| outcome != KillOutcome::Requested).map_err(|e| e.code());
        assert_eq!(actual, expected);
    }

    fn timeout(&mut self) {
        let now = self.model.observe(self.wall_ms);
        let expired: Vec<i64> = (self.model.sessions.iter())
            .filter(|(_, s)| s.running.is_empty() && s.last_ms + IDLE_MS <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in &expired {
            self.model.sessions.remove(id);
        }
        assert_eq!(self.real.handle_timeout(self.wall_ms), u32::try_from(expired.len()).unwrap());
    }

    /// The observable state: SHOW SESSIONS rows, counts, and the next idle check never late
    /// for a session that is due.
    pub(crate) fn compare(&self) {
        self.real.check_invariants().unwrap();
        let root = Caller::resolve(&self.table, "root", None);
        let rows = self.real.show_local_sessions(&root).unwrap();
        let actual: Vec<_> = rows
            .iter()
            .map(|row| {
                (
                    row.session_id.get(),
                    row.user_name.clone(),
                    row.client_ip.clone(),
                    row.space_name.clone(),
                    row.create_time_unix_us,
                    row.update_time_unix_us,
                )
            })
            .collect();
        let expected: Vec<_> = (self.model.sessions.iter())
            .map(|(&id, s)| {
                (
                    id,
                    s.user.to_owned(),
                    s.ip.to_owned(),
                    s.space.unwrap_or("").to_owned(),
                    s.created_ms * 1_000,
                    s.last_ms * 1_000,
                )
            })
            .collect();
        assert_eq!(actual, expected);
        assert_eq!(self.real.session_count(), self.model.sessions.len() as u64);
        let pairs: BTreeSet<(&str, &str)> =
            self.model.sessions.values().map(|s| (s.user, s.ip)).collect();
        for (user, ip) in pairs {
            assert_eq!(
                self.real.user_ip_session_count(user, ip),
                self.model.user_ip_count(user, ip)
            );
        }
        if let Some(first_due) = self
            .model
            .sessions
            .values()
            .filter(|s| s.running.is_empty())
            .map(|s| s.last_ms + IDLE_MS)
            .min()
        {
            let poll = self.real.poll_timeout().unwrap();
            assert!(poll <= first_due, "next check {poll} after a session is due at {first_due}");
        }
        for (&id, session) in &self.model.sessions {
            let stats = self.real.session_stats(id).unwrap();
            assert_eq!(stats.queries_active as usize, session.running.len());
        }
        let cluster: Vec<_> = (self.real.cluster_sessions().into_iter())
            .map(|view| (view.session.get(), view.space_set_unix_ms, view.running_queries as usize))
            .collect();
        let expected: Vec<_> = (self.model.sessions.iter())
            .map(|(&id, s)| (id, s.space_set_ms, s.running.len()))
            .collect();
        assert_eq!(cluster, expected);
    }
}
