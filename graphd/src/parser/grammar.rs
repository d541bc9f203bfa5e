//! The grammar of `parser/mod.rs`, one function per statement family, in recursive descent over
//! one statement's tokens.

use std::str::FromStr;

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{Secret, SessionStatement, Value};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Role, check_user_name};
use graphsession_query_plan::KillTarget;

use crate::parser::cursor::{Cursor, Stop};
use crate::parser::lexer::{Kind, Token};
use crate::parser::pipe::{Operand, Schema, Stage, kill_operands, validate_stage};
use crate::parser::{Column, E_SEMANTIC_ERROR, Exec, Expression, HostRole, Parsed};

/// The most columns one YIELD may have (a bound on what a request allocates).
const COLUMNS_MAX: usize = 1_024;
/// The longest `graphd_sleep`: one hour.
pub(super) const SLEEP_MS_MAX: u64 = 3_600_000;
/// NebulaGraph's bound on a password in CREATE USER, ALTER USER and CHANGE PASSWORD, bytes
/// (`kPasswordMaxLength` in its `src/graph/validator/ACLValidator.cpp`).
pub(super) const PASSWORD_BYTES_MAX: usize = 24;

/// One statement.
pub(super) fn statement(tokens: &[Token]) -> Result<Parsed, Stop> {
    let mut cursor = Cursor::new(tokens);
    let parsed = if cursor.keyword("SHOW") {
        show(&mut cursor)?
    } else if cursor.keyword("KILL") {
        kill(&mut cursor)?
    } else if cursor.keyword("USE") {
        Parsed::Session(SessionStatement::Use { space: cursor.name()? })
    } else if cursor.keyword("CREATE") {
        create(&mut cursor)?
    } else if cursor.keyword("DROP") {
        drop_statement(&mut cursor)?
    } else if cursor.keyword("ALTER") {
        alter(&mut cursor)?
    } else if cursor.keyword("CHANGE") {
        change_password(&mut cursor)?
    } else if cursor.keyword("GRANT") {
        grant_or_revoke(&mut cursor, true)?
    } else if cursor.keyword("REVOKE") {
        grant_or_revoke(&mut cursor, false)?
    } else if cursor.keyword("SET") {
        set_session(&mut cursor)?
    } else if cursor.keyword("YIELD") {
        Parsed::Exec(Exec::Yield { is_return: false, columns: columns(&mut cursor)? })
    } else if cursor.keyword("RETURN") {
        Parsed::Exec(Exec::Yield { is_return: true, columns: columns(&mut cursor)? })
    } else if cursor.keyword("DESC") || cursor.keyword("DESCRIBE") {
        cursor.expect_keyword("USER")?;
        Parsed::Exec(Exec::DescribeUser { user: cursor.name()? })
    } else {
        return Err(cursor.here());
    };
    cursor.end()?;
    Ok(parsed)
}

/// `SET SESSION name = value`: graphd's own (NebulaGraph 3.x has no session variables); the
/// value is an integer or a string, kept as text. The node checks the one variable with a
/// meaning, `query_timeout_ms`.
fn set_session(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    cursor.expect_keyword("SESSION")?;
    let name = cursor.name()?;
    cursor.expect_punct('=')?;
    let value = match cursor.string() {
        Ok(text) => text,
        Err(_) => cursor.int()?.to_string(),
    };
    Ok(Parsed::Session(SessionStatement::SetVariable { name, value }))
}

fn show(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    let local = cursor.keyword("LOCAL");
    if cursor.keyword("SESSIONS") {
        return Ok(Parsed::Session(SessionStatement::ShowSessions { local }));
    }
    if cursor.keyword("QUERIES") {
        return Ok(Parsed::Session(SessionStatement::ShowQueries { local }));
    }
    if local {
        return Err(cursor.here());
    }
    if cursor.keyword("SESSION") {
        let session_id = cursor.int()?;
        return Ok(Parsed::Session(SessionStatement::ShowSession { session_id }));
    }
    let exec = if cursor.keyword("USERS") {
        Exec::ShowUsers
    } else if cursor.keyword("SPACES") {
        Exec::ShowSpaces
    } else if cursor.keyword("ROLES") {
        cursor.expect_keyword("IN")?;
        Exec::ShowRoles { space: cursor.name()? }
    } else if cursor.keyword("HOSTS") {
        let role = if cursor.keyword("META") {
            HostRole::Meta
        } else if cursor.keyword("STORAGE") {
            if cursor.keyword("LISTENER") { HostRole::StorageListener } else { HostRole::Storage }
        } else if cursor.keyword("AGENT") {
            HostRole::Agent
        } else {
            let _graph = cursor.keyword("GRAPH");
            HostRole::Graph
        };
        Exec::ShowHosts { role }
    } else {
        return Err(cursor.here());
    };
    Ok(Parsed::Exec(exec))
}

fn kill(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    if cursor.keyword("SESSION") || cursor.keyword("SESSIONS") {
        return kill_session(cursor);
    }
    cursor.expect_keyword("QUERY")?;
    let (session, (plan, plan_at)) = kill_operands(cursor)?;
    // Input properties without a pipe: NebulaGraph's semantic error, the session's first.
    let stage = Stage::KillQuery {
        session: session.as_ref().map(|(session, _)| session.clone()),
        plan: plan.clone(),
    };
    if let Err(message) = validate_stage(&Schema::new(), &stage) {
        return Ok(Parsed::Exec(Exec::Fail { code: E_SEMANTIC_ERROR, message }));
    }
    let plan = match plan {
        // NebulaGraph's grammar takes a negative plan id too (`unary_integer`). No query has
        // one (plan ids are positive `i64`s), so it is answered as a plan that does not exist,
        // after the session's own checks, with the id as typed (`PlanId`'s display is signed).
        Operand::Literal(Value::Int(plan)) => {
            PlanId::from_u64(u64::from_ne_bytes(plan.to_ne_bytes()))
        }
        Operand::Literal(_) | Operand::Input(_) => return Err(plan_at),
    };
    let target = match session {
        // NebulaGraph's `KillQueryExecutor` takes session 0 for the current session.
        None | Some((Operand::Literal(Value::Int(0)), _)) => KillTarget::CurrentSession { plan },
        Some((Operand::Literal(Value::Int(session)), _)) => match SessionId::new(session) {
            Some(session) => KillTarget::Session { session, plan },
            // No session has a negative id: NebulaGraph's answer for a session it cannot find.
            None => {
                let message = format!("SessionId[{session}] does not exist");
                return Ok(Parsed::Exec(Exec::Fail { code: E_EXECUTION_ERROR, message }));
            }
        },
        Some((_, at)) => return Err(at),
    };
    Ok(Parsed::Session(SessionStatement::KillQuery { target }))
}

/// KILL SESSION takes one expression; an integer is a session id, any other literal is
/// NebulaGraph's semantic error.
fn kill_session(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    let value = literal(cursor)?;
    let type_name = match &value {
        Value::Int(session_id) => {
            let session_ids = vec![*session_id];
            return Ok(Parsed::Session(SessionStatement::KillSessions { session_ids }));
        }
        Value::Float(_) => "FLOAT",
        Value::Str(_) => "STRING",
        Value::Bool(_) => "BOOL",
        Value::Null | Value::DateTime { .. } => "__NULL__",
    };
    let message = format!(
        "SemanticError: {}, Session ID must be an integer but was {type_name}",
        print(&value)
    );
    Ok(Parsed::Exec(Exec::Fail { code: E_SEMANTIC_ERROR, message }))
}

fn if_exists(cursor: &mut Cursor<'_>, not: bool) -> Result<bool, Stop> {
    if !cursor.keyword("IF") {
        return Ok(false);
    }
    if not {
        cursor.expect_keyword("NOT")?;
    }
    cursor.expect_keyword("EXISTS")?;
    Ok(true)
}

fn create(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    if cursor.keyword("USER") {
        let if_not_exists = if_exists(cursor, true)?;
        let user = cursor.name()?;
        let password = if cursor.keyword("WITH") {
            cursor.expect_keyword("PASSWORD")?;
            cursor.string()?
        } else {
            String::new()
        };
        if let Some(refused) = out_of_bounds(&user, &[("Password", &password)]) {
            return Ok(refused);
        }
        return Ok(Parsed::Session(SessionStatement::CreateUser { user, if_not_exists, password }));
    }
    cursor.expect_keyword("SPACE")?;
    let if_not_exists = if_exists(cursor, true)?;
    let space = cursor.name()?;
    if cursor.punct('(') {
        space_options(cursor)?;
    }
    if cursor.keyword("COMMENT") {
        let _equals = cursor.punct('=');
        let _comment = cursor.string()?;
    }
    Ok(Parsed::Exec(Exec::CreateSpace { space, if_not_exists }))
}

/// `option (',' option)* ')'` after the `(`: accepted and not kept (graphd stores no data).
fn space_options(cursor: &mut Cursor<'_>) -> Result<(), Stop> {
    loop {
        let _name = cursor.name()?;
        cursor.expect_punct('=')?;
        match cursor.peek().map(|token| &token.kind) {
            Some(Kind::Int(_) | Kind::Str(_)) => {
                let _value = cursor.next_token();
            }
            _ => {
                let _type = cursor.name()?;
                if cursor.punct('(') {
                    let _size = cursor.int()?;
                    cursor.expect_punct(')')?;
                }
            }
        }
        if !cursor.punct(',') {
            return cursor.expect_punct(')');
        }
    }
}

fn drop_statement(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    if cursor.keyword("USER") {
        let if_exists = if_exists(cursor, false)?;
        let user = cursor.name()?;
        return Ok(Parsed::Session(SessionStatement::DropUser { user, if_exists }));
    }
    cursor.expect_keyword("SPACE")?;
    let if_exists = if_exists(cursor, false)?;
    let space = cursor.name()?;
    Ok(Parsed::Exec(Exec::DropSpace { space, if_exists }))
}

fn alter(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    cursor.expect_keyword("USER")?;
    let user = cursor.name()?;
    cursor.expect_keyword("WITH")?;
    cursor.expect_keyword("PASSWORD")?;
    let password = cursor.string()?;
    if let Some(refused) = out_of_bounds(&user, &[("Password", &password)]) {
        return Ok(refused);
    }
    Ok(Parsed::Session(SessionStatement::AlterUser { user, password }))
}

/// NebulaGraph's semantic checks of a user statement, in its validators' order
/// (`CreateUserValidator`, `UpdateUserValidator`, `ChangePasswordValidator`): the user name
/// within 16 bytes, then each password, named as NebulaGraph names it, within
/// [`PASSWORD_BYTES_MAX`]. They come before the permission check: -1009 whoever asks.
fn out_of_bounds(user: &str, passwords: &[(&str, &str)]) -> Option<Parsed> {
    if let Err(error) = check_user_name(user) {
        return Some(Parsed::Exec(Exec::Fail { code: error.code(), message: error.to_string() }));
    }
    let (word, _) = passwords.iter().find(|(_, password)| password.len() > PASSWORD_BYTES_MAX)?;
    let message =
        format!("SemanticError: {word} exceed maximum length {PASSWORD_BYTES_MAX} characters.");
    Some(Parsed::Exec(Exec::Fail { code: E_SEMANTIC_ERROR, message }))
}

fn change_password(cursor: &mut Cursor<'_>) -> Result<Parsed, Stop> {
    cursor.expect_keyword("PASSWORD")?;
    let user = cursor.name()?;
    cursor.expect_keyword("FROM")?;
    let old = Secret(cursor.string()?);
    cursor.expect_keyword("TO")?;
    let new = Secret(cursor.string()?);
    if let Some(refused) =
        out_of_bounds(&user, &[("Old password", &old.0), ("New password", &new.0)])
    {
        return Ok(refused);
    }
    Ok(Parsed::Exec(Exec::ChangePassword { user, old, new }))
}

fn grant_or_revoke(cursor: &mut Cursor<'_>, grant: bool) -> Result<Parsed, Stop> {
    let _role_keyword = cursor.keyword("ROLE");
    let at = cursor.here();
    let role = Role::from_str(&cursor.name()?).map_err(|_| at)?;
    cursor.expect_keyword("ON")?;
    let space = cursor.name()?;
    cursor.expect_keyword(if grant { "TO" } else { "FROM" })?;
    let user = cursor.name()?;
    Ok(Parsed::Session(if grant {
        SessionStatement::Grant { role, space, user }
    } else {
        SessionStatement::Revoke { role, space, user }
    }))
}

fn columns(cursor: &mut Cursor<'_>) -> Result<Vec<Column>, Stop> {
    let mut columns = Vec::new();
    loop {
        if columns.len() >= COLUMNS_MAX {
            return Err(cursor.here());
        }
        let expression = expression(cursor)?;
        let name = if cursor.keyword("AS") { cursor.name()? } else { name_of(&expression) };
        columns.push(Column { name, expression });
        if !cursor.punct(',') {
            return Ok(columns);
        }
    }
}

fn expression(cursor: &mut Cursor<'_>) -> Result<Expression, Stop> {
    match cursor.peek() {
        Some(Token { kind: Kind::Parameter(name), .. }) => {
            let name = name.clone();
            let _parameter = cursor.next_token();
            Ok(Expression::Parameter(name))
        }
        Some(token) if token.is_keyword("graphd_sleep") => {
            let _function = cursor.next_token();
            cursor.expect_punct('(')?;
            let at = cursor.here();
            let ms = u64::try_from(cursor.int()?).map_err(|_| at)?;
            if ms > SLEEP_MS_MAX {
                return Err(at);
            }
            cursor.expect_punct(')')?;
            Ok(Expression::Sleep { ms })
        }
        _ => literal(cursor).map(Expression::Literal),
    }
}

pub(super) fn literal(cursor: &mut Cursor<'_>) -> Result<Value, Stop> {
    let negative = cursor.punct('-');
    let Some(token) = cursor.next_token() else { return Err(None) };
    let stop = Some(token.span);
    let value = match &token.kind {
        Kind::Int(digits) => {
            let text = if negative { format!("-{digits}") } else { digits.clone() };
            Value::Int(text.parse().map_err(|_| stop)?)
        }
        Kind::Float(digits) => {
            let value: f64 = digits.parse().map_err(|_| stop)?;
            Value::Float(if negative { -value } else { value })
        }
        _ if negative => return Err(stop),
        Kind::Str(text) => Value::Str(text.clone()),
        _ if token.is_keyword("TRUE") => Value::Bool(true),
        _ if token.is_keyword("FALSE") => Value::Bool(false),
        _ if token.is_keyword("NULL") => Value::Null,
        _ => return Err(stop),
    };
    Ok(value)
}

/// A column's default name: the expression as NebulaGraph prints it.
fn name_of(expression: &Expression) -> String {
    match expression {
        Expression::Literal(value) => print(value),
        Expression::Parameter(name) => format!("${name}"),
        Expression::Sleep { ms } => format!("graphd_sleep({ms})"),
    }
}

/// A literal as NebulaGraph's `Expression::toString` prints it.
pub(super) fn print(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(int) => int.to_string(),
        Value::Float(float) => format!("{float:?}"),
        Value::Str(text) => format!("{text:?}"),
        Value::DateTime { unix_us } => unix_us.to_string(),
    }
}
