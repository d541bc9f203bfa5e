//! Login throttling as NebulaGraph has it: `failed_login_attempts` consecutive wrong passwords
//! lock a user on this node for `password_lock_time_secs`; a successful login resets the count.
//! On only when both flags are > 0. The registry does not check passwords: the host does and
//! passes the outcome in ([`PasswordCheck`]).

use std::collections::BTreeMap;

use graphsession_base::sync::{Mutex, lock};

use crate::server::error::ServerError;

/// The outcome of the host's password check for a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PasswordCheck {
    /// The password is right.
    Verified,
    /// The password is wrong.
    Rejected,
    /// The host's account store has no such user.
    UnknownUser,
    /// Authorization is off: NebulaGraph skips the check (and the lockout).
    Skipped,
}

/// One user's failed attempts on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempts {
    /// `remaining` more wrong passwords are allowed before a lock.
    Counting { remaining: u32 },
    /// Locked until `until_ms`; then the count starts again.
    Locked { until_ms: u64 },
}

/// The lockout table: only users with failed attempts are in it.
#[derive(Debug)]
pub(crate) struct Throttle {
    users: Mutex<BTreeMap<Box<str>, Attempts>>,
    attempts_max: u32,
    lock_ms: u64,
    users_max: u32,
}

impl Throttle {
    pub(crate) fn new(attempts_max: u32, lock_secs: u32, users_max: u32) -> Throttle {
        let lock_ms = u64::from(lock_secs) * 1_000;
        Throttle { users: Mutex::default(), attempts_max, lock_ms, users_max }
    }

    fn enabled(&self) -> bool {
        self.attempts_max > 0 && self.lock_ms > 0
    }

    /// Applies `check` for `user` at `now_ms`: Ok when the login may go on, the -1001 error
    /// otherwise. A wrong password counts; a right one resets the count.
    pub(crate) fn check(
        &self,
        user: &str,
        check: PasswordCheck,
        now_ms: u64,
    ) -> Result<(), ServerError> {
        match check {
            PasswordCheck::Skipped => return Ok(()),
            PasswordCheck::UnknownUser => return Err(ServerError::UserNotExist),
            PasswordCheck::Verified | PasswordCheck::Rejected => {}
        }
        if !self.enabled() {
            return match check {
                PasswordCheck::Rejected => Err(ServerError::InvalidPassword),
                _ => Ok(()),
            };
        }
        let mut users = lock(&self.users);
        if let Some(Attempts::Locked { until_ms }) = users.get(user).copied() {
            if now_ms < until_ms {
                return Err(self.locked(user, until_ms - now_ms));
            }
            users.remove(user);
        }
        if check == PasswordCheck::Verified {
            users.remove(user);
            return Ok(());
        }
        let remaining = match users.get(user) {
            Some(Attempts::Counting { remaining }) => *remaining,
            _ => self.attempts_max,
        };
        let next = remaining.saturating_sub(1);
        let attempts = if next == 0 {
            Attempts::Locked { until_ms: now_ms.saturating_add(self.lock_ms) }
        } else {
            Attempts::Counting { remaining: next }
        };
        // Bounded: a table that is full keeps counting the users already in it; a new one goes
        // unthrottled rather than evicting a locked user (which would unlock it).
        if users.contains_key(user) || users.len() < self.users_max as usize {
            users.insert(user.into(), attempts);
        }
        match attempts {
            Attempts::Locked { .. } => Err(self.locked(user, self.lock_ms)),
            Attempts::Counting { remaining } => {
                Err(ServerError::InvalidPasswordRemaining { remaining })
            }
        }
    }

    fn locked(&self, user: &str, remaining_ms: u64) -> ServerError {
        ServerError::Locked {
            attempts: self.attempts_max,
            user: user.to_owned(),
            remaining_secs: remaining_ms.div_ceil(1_000),
        }
    }

    /// The lockout entries, for snapshots.
    pub(crate) fn entries(&self) -> Vec<(String, Attempts)> {
        lock(&self.users).iter().map(|(user, attempts)| (user.to_string(), *attempts)).collect()
    }

    /// Restores entries (from a validated snapshot).
    pub(crate) fn restore(&self, entries: Vec<(String, Attempts)>) {
        let mut users = lock(&self.users);
        for (user, attempts) in entries {
            users.insert(user.into(), attempts);
        }
    }

    pub(crate) fn len(&self) -> u32 {
        u32::try_from(lock(&self.users).len()).unwrap_or(u32::MAX)
    }
}
