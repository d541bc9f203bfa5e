//! The nGQL text of a session statement, as SHOW QUERIES lists it.
//!
//! A host parses a statement before the node sees it, so the node never has the text the client
//! sent. It lists a session statement by this canonical form instead: the statement written back
//! in nGQL (names in backticks only where they need them), passwords replaced by `<redacted>`
//! so that no listing or log shows one.

use std::fmt;

use graphsession_query_plan::KillTarget;

use super::request::SessionStatement;

impl fmt::Display for SessionStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStatement::Use { space } => write!(f, "USE {}", Name(space)),
            SessionStatement::ShowSessions { local } => {
                write!(f, "SHOW {}SESSIONS", if *local { "LOCAL " } else { "" })
            }
            SessionStatement::ShowSession { session_id } => write!(f, "SHOW SESSION {session_id}"),
            SessionStatement::KillSessions { session_ids } => {
                f.write_str("KILL SESSION ")?;
                for (index, id) in session_ids.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{id}")?;
                }
                Ok(())
            }
            SessionStatement::ShowQueries { local } => {
                write!(f, "SHOW {}QUERIES", if *local { "LOCAL " } else { "" })
            }
            SessionStatement::KillQuery { target: KillTarget::CurrentSession { plan } } => {
                write!(f, "KILL QUERY (plan={plan})")
            }
            SessionStatement::KillQuery { target: KillTarget::Session { session, plan } } => {
                write!(f, "KILL QUERY (session={session}, plan={plan})")
            }
            SessionStatement::Grant { role, space, user } => {
                write!(f, "GRANT ROLE {role} ON {} TO {}", Name(space), Name(user))
            }
            SessionStatement::Revoke { role, space, user } => {
                write!(f, "REVOKE ROLE {role} ON {} FROM {}", Name(space), Name(user))
            }
            SessionStatement::CreateUser { user, if_not_exists, password } => {
                let guard = if *if_not_exists { "IF NOT EXISTS " } else { "" };
                write!(f, "CREATE USER {guard}{}", Name(user))?;
                if !password.is_empty() {
                    f.write_str(" WITH PASSWORD <redacted>")?;
                }
                Ok(())
            }
            SessionStatement::DropUser { user, if_exists } => {
                let guard = if *if_exists { "IF EXISTS " } else { "" };
                write!(f, "DROP USER {guard}{}", Name(user))
            }
            SessionStatement::AlterUser { user, .. } => {
                write!(f, "ALTER USER {} WITH PASSWORD <redacted>", Name(user))
            }
            SessionStatement::SetVariable { name, value } => {
                write!(f, "SET SESSION {} = {value}", Name(name))
            }
        }
    }
}

/// A name as nGQL writes it: bare when it is a plain identifier, else in backticks (a backtick
/// inside written as a backslash and a backtick, as NebulaGraph's lexer reads it).
struct Name<'a>(&'a str);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        let plain = chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            return f.write_str(self.0);
        }
        f.write_str("`")?;
        for c in self.0.chars() {
            if c == '`' {
                f.write_str("\\`")?;
            } else {
                write!(f, "{c}")?;
            }
        }
        f.write_str("`")
    }
}

#[cfg(test)]
mod tests {
    use graphsession_id_gen::{PlanId, SessionId};
    use graphsession_permission::Role;

    use super::*;

    fn text(statement: SessionStatement) -> String {
        statement.to_string()
    }

    #[test]
    fn every_statement_reads_as_ngql() {
        assert_eq!(text(SessionStatement::Use { space: "nba".into() }), "USE nba");
        assert_eq!(text(SessionStatement::ShowSessions { local: false }), "SHOW SESSIONS");
        assert_eq!(text(SessionStatement::ShowSessions { local: true }), "SHOW LOCAL SESSIONS");
        assert_eq!(text(SessionStatement::ShowSession { session_id: -42 }), "SHOW SESSION -42");
        assert_eq!(
            text(SessionStatement::KillSessions { session_ids: vec![7, -8, 9] }),
            "KILL SESSION 7, -8, 9"
        );
        assert_eq!(text(SessionStatement::ShowQueries { local: false }), "SHOW QUERIES");
        assert_eq!(text(SessionStatement::ShowQueries { local: true }), "SHOW LOCAL QUERIES");
        let plan = PlanId::from_u64(12);
        let session = SessionId::new(5).expect("positive");
        assert_eq!(
            text(SessionStatement::KillQuery { target: KillTarget::CurrentSession { plan } }),
            "KILL QUERY (plan=12)"
        );
        assert_eq!(
            text(SessionStatement::KillQuery { target: KillTarget::Session { session, plan } }),
            "KILL QUERY (session=5, plan=12)"
        );
        let (space, user) = ("nba".to_owned(), "alice".to_owned());
        assert_eq!(
            text(SessionStatement::Grant {
                role: Role::Dba,
                space: space.clone(),
                user: user.clone()
            }),
            "GRANT ROLE DBA ON nba TO alice"
        );
        assert_eq!(
            text(SessionStatement::Revoke { role: Role::Guest, space, user: user.clone() }),
            "REVOKE ROLE GUEST ON nba FROM alice"
        );
        assert_eq!(
            text(SessionStatement::DropUser { user: user.clone(), if_exists: true }),
            "DROP USER IF EXISTS alice"
        );
        assert_eq!(
            text(SessionStatement::SetVariable {
                name: "query_timeout_ms".into(),
                value: "5".into()
            }),
            "SET SESSION query_timeout_ms = 5"
        );
    }

    #[test]
    fn passwords_never_show() {
        let create = SessionStatement::CreateUser {
            user: "bob".into(),
            if_not_exists: true,
            password: "hunter2".into(),
        };
        assert_eq!(text(create), "CREATE USER IF NOT EXISTS bob WITH PASSWORD <redacted>");
        let bare = SessionStatement::CreateUser {
            user: "bob".into(),
            if_not_exists: false,
            password: String::new(),
        };
        assert_eq!(text(bare), "CREATE USER bob");
        let alter = SessionStatement::AlterUser { user: "bob".into(), password: "hunter2".into() };
        assert_eq!(text(alter), "ALTER USER bob WITH PASSWORD <redacted>");
    }

    #[test]
    fn names_that_are_not_identifiers_are_quoted() {
        assert_eq!(text(SessionStatement::Use { space: "my space".into() }), "USE `my space`");
        assert_eq!(text(SessionStatement::Use { space: "1st".into() }), "USE `1st`");
        assert_eq!(text(SessionStatement::Use { space: "a`b".into() }), "USE `a\\`b`");
        assert_eq!(text(SessionStatement::Use { space: String::new() }), "USE ``");
        assert_eq!(text(SessionStatement::Use { space: "_x9".into() }), "USE _x9");
    }
}
