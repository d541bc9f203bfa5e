//! What a connection asks of a graph node, as typed values: the host decodes the wire and
//! parses statements; the node decides everything else.

use graphsession_permission::Role;
use graphsession_query_plan::KillTarget;

use crate::server::PasswordCheck;

/// One request read from one connection (NebulaGraph's `GraphService` calls).
#[derive(Clone, PartialEq, Eq)]
pub enum Request {
    /// `verifyClientVersion`: sent first on every connection by the official clients.
    VerifyClientVersion {
        /// The version the client says it speaks, for example `"3.0.0"`.
        version: String,
    },
    /// `authenticate`, with the outcome of the host's password check (the node never sees a
    /// stored password or its hash).
    Authenticate {
        /// The user name.
        user: String,
        /// The client's address, as the host saw the connection.
        client_ip: String,
        /// What the host's password store said.
        password: PasswordCheck,
    },
    /// `execute` (and its JSON and parameter variants): a statement in a session. Session id
    /// 0 is the clients' ping, answered -1002 without touching any session.
    Execute {
        /// NebulaGraph's wire type: any value may arrive.
        session_id: i64,
        /// The parsed statement.
        statement: Statement,
    },
    /// `signout`: one-way, never answered. A later request on the same connection is held
    /// until meta confirmed the removal, so its reply also proves the sign-out is durable.
    SignOut {
        /// The session to end; an unknown id is ignored, as in NebulaGraph.
        session_id: i64,
    },
}

impl std::fmt::Debug for Request {
    // Written by hand so the shape stays stable for logs; nothing here is secret, but a future
    // field might be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::VerifyClientVersion { version } => {
                f.debug_struct("VerifyClientVersion").field("version", version).finish()
            }
            Request::Authenticate { user, client_ip, password } => f
                .debug_struct("Authenticate")
                .field("user", user)
                .field("client_ip", client_ip)
                .field("password", password)
                .finish(),
            Request::Execute { session_id, statement } => f
                .debug_struct("Execute")
                .field("session_id", session_id)
                .field("statement", statement)
                .finish(),
            Request::SignOut { session_id } => {
                f.debug_struct("SignOut").field("session_id", session_id).finish()
            }
        }
    }
}

/// A statement, parsed by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// A session statement: the node runs it itself, with NebulaGraph's result columns, codes
    /// and permission checks.
    Session(SessionStatement),
    /// Anything else: registered as a query and handed to the host's executor
    /// ([`Output::Run`](crate::node::Output::Run)), which runs the statement's permission check
    /// on the query's caller.
    Query {
        /// The statement text (shown by SHOW QUERIES).
        text: String,
    },
}

/// The statements a graph node answers from its session state alone.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionStatement {
    /// `USE space`.
    Use {
        /// The space.
        space: String,
    },
    /// `SHOW SESSIONS` (from meta) or `SHOW LOCAL SESSIONS` (this node's registry).
    ShowSessions {
        /// `LOCAL`.
        local: bool,
    },
    /// `SHOW SESSION id`.
    ShowSession {
        /// The session asked for.
        session_id: i64,
    },
    /// `KILL SESSION id, ...` (also spelled `KILL SESSIONS`).
    KillSessions {
        /// The ids, already checked to be integers by the parser (-1009 otherwise).
        session_ids: Vec<i64>,
    },
    /// `SHOW [LOCAL] QUERIES`.
    ShowQueries {
        /// `LOCAL`: the current session's queries only.
        local: bool,
    },
    /// `KILL QUERY (session=s, plan=p)` or `KILL QUERY (plan=p)`.
    KillQuery {
        /// Which query.
        target: KillTarget,
    },
    /// `GRANT ROLE role ON space TO user`.
    Grant {
        /// The role.
        role: Role,
        /// The space.
        space: String,
        /// The user.
        user: String,
    },
    /// `REVOKE ROLE role ON space FROM user`.
    Revoke {
        /// The role.
        role: Role,
        /// The space.
        space: String,
        /// The user.
        user: String,
    },
    /// `CREATE USER [IF NOT EXISTS] user [WITH PASSWORD password]`.
    CreateUser {
        /// The user.
        user: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// The password; redacted from `Debug` output.
        password: String,
    },
    /// `DROP USER [IF EXISTS] user`.
    DropUser {
        /// The user.
        user: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER USER user WITH PASSWORD password`.
    AlterUser {
        /// The user.
        user: String,
        /// The new password; redacted from `Debug` output.
        password: String,
    },
    /// `SET SESSION name = value`: sets a variable of the current session (ours: NebulaGraph
    /// 3.x has no session variables). The one with a meaning is
    /// [`QUERY_TIMEOUT_VARIABLE`](crate::server::QUERY_TIMEOUT_VARIABLE), the session's query
    /// timeout; see [`SessionManager::set_variable`](crate::server::SessionManager::set_variable).
    SetVariable {
        /// The variable's name.
        name: String,
        /// Its value, as text.
        value: String,
    },
}

impl std::fmt::Debug for SessionStatement {
    // Written by hand so that passwords never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionStatement::Use { space } => f.debug_struct("Use").field("space", space).finish(),
            SessionStatement::ShowSessions { local } => {
                f.debug_struct("ShowSessions").field("local", local).finish()
            }
            SessionStatement::ShowSession { session_id } => {
                f.debug_struct("ShowSession").field("session_id", session_id).finish()
            }
            SessionStatement::KillSessions { session_ids } => {
                f.debug_struct("KillSessions").field("session_ids", session_ids).finish()
            }
            SessionStatement::ShowQueries { local } => {
                f.debug_struct("ShowQueries").field("local", local).finish()
            }
            SessionStatement::KillQuery { target } => {
                f.debug_struct("KillQuery").field("target", target).finish()
            }
            SessionStatement::Grant { role, space, user } => f
                .debug_struct("Grant")
                .field("role", role)
                .field("space", space)
                .field("user", user)
                .finish(),
            SessionStatement::Revoke { role, space, user } => f
                .debug_struct("Revoke")
                .field("role", role)
                .field("space", space)
                .field("user", user)
                .finish(),
            SessionStatement::CreateUser { user, if_not_exists, .. } => f
                .debug_struct("CreateUser")
                .field("user", user)
                .field("if_not_exists", if_not_exists)
                .field("password", &"<redacted>")
                .finish(),
            SessionStatement::DropUser { user, if_exists } => f
                .debug_struct("DropUser")
                .field("user", user)
                .field("if_exists", if_exists)
                .finish(),
            SessionStatement::AlterUser { user, .. } => f
                .debug_struct("AlterUser")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            SessionStatement::SetVariable { name, value } => {
                f.debug_struct("SetVariable").field("name", name).field("value", value).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hosts log requests with `{:?}`: the form names the call and every field, in a stable
    /// order.
    #[test]
    fn debug_names_the_call_and_its_fields() {
        let authenticate = Request::Authenticate {
            user: "alice".to_owned(),
            client_ip: "10.0.0.7".to_owned(),
            password: PasswordCheck::Rejected,
        };
        assert_eq!(
            format!("{authenticate:?}"),
            r#"Authenticate { user: "alice", client_ip: "10.0.0.7", password: Rejected }"#
        );
        let version = Request::VerifyClientVersion { version: "3.0.0".to_owned() };
        assert_eq!(format!("{version:?}"), r#"VerifyClientVersion { version: "3.0.0" }"#);
        assert_eq!(
            format!("{:?}", Request::SignOut { session_id: -7 }),
            "SignOut { session_id: -7 }"
        );
    }
}
