//! The session id value type.

use std::num::NonZeroI64;

/// A session id: a positive `i64`, the only credential a NebulaGraph client sends with every request.
///
/// Issued by [`SessionIdGenerator`](crate::SessionIdGenerator); never 0 (NebulaGraph's ping convention) and
/// never negative when issued here ([`SessionId::new`]); a client holds any non-zero id a server
/// sends ([`SessionId::from_wire`]). `Option<SessionId>` is the size of an `i64`.
///
/// ```
/// use graphsession_id_gen::SessionId;
/// assert!(SessionId::new(0).is_none());
/// assert!(SessionId::new(-5).is_none());
/// assert_eq!(SessionId::new(42).unwrap().get(), 42);
/// assert_eq!(SessionId::new(42).unwrap().to_string(), "42");
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct SessionId(NonZeroI64);

impl SessionId {
    /// The id `value`, if it is positive.
    pub const fn new(value: i64) -> Option<SessionId> {
        if value <= 0 {
            return None;
        }
        match NonZeroI64::new(value) {
            Some(value) => Some(SessionId(value)),
            None => None,
        }
    }

    /// Any non-zero id, as a NebulaGraph server may issue it: this crate's generators issue
    /// positive ids only, but NebulaGraph's development branch issues random 64-bit ids, about
    /// half of them negative, and a client must hold and sign out whatever the server gave.
    /// 0 is the ping convention, never a session.
    ///
    /// ```
    /// use graphsession_id_gen::SessionId;
    /// assert_eq!(SessionId::from_wire(-5).map(SessionId::get), Some(-5));
    /// assert!(SessionId::from_wire(0).is_none());
    /// ```
    pub const fn from_wire(value: i64) -> Option<SessionId> {
        match NonZeroI64::new(value) {
            Some(value) => Some(SessionId(value)),
            None => None,
        }
    }

    /// The id as NebulaGraph's wire type.
    pub const fn get(self) -> i64 {
        self.0.get()
    }
}

/// A value that is not a valid session id (zero or negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a session id: session ids are positive")]
pub struct NotASessionId(pub i64);

impl TryFrom<i64> for SessionId {
    type Error = NotASessionId;
    fn try_from(value: i64) -> Result<SessionId, NotASessionId> {
        SessionId::new(value).ok_or(NotASessionId(value))
    }
}

impl From<SessionId> for i64 {
    fn from(id: SessionId) -> i64 {
        id.get()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
