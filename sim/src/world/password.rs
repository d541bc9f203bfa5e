//! The password oracle: the host's password store, and what a node must answer a known user who
//! types a wrong password (the stranger of some seeds). Throttling off (`failed_login_attempts`
//! or `password_lock_time_secs` 0): every such login is refused as "Invalid password". On: each
//! refusal counts down the attempts left, exactly, and the one that reaches zero locks the user
//! on that node until the lock time passed; a locked user is refused as locked. Never is such a
//! login admitted.

use std::collections::BTreeMap;

use graphsession_base::codes::E_BAD_USERNAME_PASSWORD;
use graphsession_core::client::ConnectionId;
use graphsession_core::node::Reply;
use graphsession_core::server::{PasswordCheck, ServerError};
use graphsession_permission::RoleTable;

/// The password every known user has; a client that sends another typed it wrong.
pub(crate) const PASSWORD: &str = "secret";

/// The known user whose client types a wrong password (some seeds' stranger).
pub(crate) const WRONG_PASSWORD_USER: &str = "trudy";

/// The host's password store: unknown users, the right password, a wrong one.
pub(crate) fn password_check(table: &RoleTable, user: &str, password: &str) -> PasswordCheck {
    if !table.contains_user(user) {
        PasswordCheck::UnknownUser
    } else if password == PASSWORD {
        PasswordCheck::Verified
    } else {
        PasswordCheck::Rejected
    }
}

/// What the next refusal of a wrong password on this node must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Not known (the throttle was restored from a snapshot): any state the throttle can be in.
    Unknown,
    /// The count is at its start (no wrong password yet, or the lock ended).
    Start,
    /// "remaining attempts: n".
    Remaining(u32),
    /// Locked: locked again, or (the lock time passed) the count from its start.
    Locked,
}

/// One node process's view of the wrong-password logins it answers.
#[derive(Debug, Clone)]
pub(crate) struct PasswordModel {
    attempts: u32,
    lock_secs: u32,
    expect: Expect,
    /// Wrong-password authenticates not yet answered, by connection.
    pending: BTreeMap<ConnectionId, u32>,
}

impl PasswordModel {
    /// A node process started with `attempts` and `lock_secs`, its throttle empty or
    /// `restored` from a snapshot.
    pub(crate) fn new(attempts: u32, lock_secs: u32, restored: bool) -> PasswordModel {
        let expect = if restored { Expect::Unknown } else { Expect::Start };
        PasswordModel { attempts, lock_secs, expect, pending: BTreeMap::new() }
    }

    fn throttled(&self) -> bool {
        self.attempts > 0 && self.lock_secs > 0
    }

    /// A login with a wrong password arrived on `connection`.
    pub(crate) fn sent(&mut self, connection: ConnectionId) {
        *self.pending.entry(connection).or_insert(0) += 1;
    }

    /// The node answered `reply` on `connection`: judged if it answers a wrong password.
    pub(crate) fn judge(
        &mut self,
        node: u16,
        connection: ConnectionId,
        reply: &Reply,
    ) -> Result<(), String> {
        if !self.pending.contains_key(&connection) {
            return Ok(());
        }
        let message = match reply {
            Reply::Authenticated { session_id, .. } => {
                return Err(format!(
                    "[wrong_password] node {node} admitted {WRONG_PASSWORD_USER} with a wrong password (session \
                     {session_id}); expected a -1001 refusal"
                ));
            }
            Reply::AuthenticateFailed { code, message } if *code == E_BAD_USERNAME_PASSWORD => {
                message
            }
            // Refused before the password was looked at (a full queue): not counted.
            Reply::AuthenticateFailed { .. } => return self.answered(connection),
            _ => return Ok(()),
        };
        self.answered(connection)?;
        if !self.throttled() {
            let plain = ServerError::InvalidPassword.to_string();
            if *message != plain {
                return Err(format!(
                    "[password_throttle] node {node} (throttling off: {} attempts, {} s lock) answered a wrong \
                     password with {message:?}; expected {plain:?}",
                    self.attempts, self.lock_secs
                ));
            }
            return Ok(());
        }
        let said = self.said(message);
        let start = self.after_start();
        let allowed: Vec<Expect> = match self.expect {
            Expect::Unknown => vec![said],
            Expect::Start => vec![start],
            Expect::Remaining(0) => vec![Expect::Locked],
            Expect::Locked => vec![Expect::Locked, start],
            Expect::Remaining(n) => vec![Expect::Remaining(n)],
        };
        if said == Expect::Unknown || !allowed.contains(&said) {
            return Err(format!(
                "[password_throttle] node {node} ({} attempts, {} s lock) answered a wrong password with {message:?}; \
                 expected one of {allowed:?} (after {:?})",
                self.attempts, self.lock_secs, self.expect
            ));
        }
        self.expect = match said {
            Expect::Remaining(n) => Expect::Remaining(n - 1),
            other => other,
        };
        Ok(())
    }

    fn answered(&mut self, connection: ConnectionId) -> Result<(), String> {
        if let Some(count) = self.pending.get_mut(&connection) {
            *count -= 1;
            if *count == 0 {
                self.pending.remove(&connection);
            }
        }
        Ok(())
    }

    /// What the first wrong password of a count says.
    fn after_start(&self) -> Expect {
        match self.attempts {
            1 => Expect::Locked,
            n => Expect::Remaining(n - 1),
        }
    }

    /// What `message` says, as an expectation; `Unknown` if it is no throttle refusal.
    fn said(&self, message: &str) -> Expect {
        for remaining in 1..self.attempts {
            if message == (ServerError::InvalidPasswordRemaining { remaining }).to_string() {
                return Expect::Remaining(remaining);
            }
        }
        for remaining_secs in 1..=u64::from(self.lock_secs) {
            let locked = ServerError::Locked {
                attempts: self.attempts,
                user: WRONG_PASSWORD_USER.to_owned(),
                remaining_secs,
            };
            if message == locked.to_string() {
                return Expect::Locked;
            }
        }
        Expect::Unknown
    }
}
