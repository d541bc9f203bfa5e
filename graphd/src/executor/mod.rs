//! graphd's executor: the statements `GraphNode` hands out (`Output::Run`), run by the actor
//! with the query's caller. Every statement takes the permission crate's two steps first,
//! [`validate_statement`], then the engine's semantic check that a named space exists (USE,
//! GRANT, REVOKE, SHOW ROLES IN: NebulaGraph's `SpaceNotFound` comes before its permission
//! check), then [`check_statement`] on the caller, as NebulaGraph's validator does; then the work. What waits (the
//! sleep function, a password hash) runs on a task that checks the query's kill flag and reports
//! back with [`Message::QueryDone`](crate::actor::Message::QueryDone).

mod show;
mod tasks;

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{DataSet, SessionStatement, Value};
use graphsession_core::server::QueryStart;
use graphsession_permission::{
    PermissionError, Statement as Permission, check_statement, validate_statement,
};
use graphsession_wire::Parameters;
use graphsession_wire::nebula_common::types::Value as WireValue;

use crate::actor::{Actor, NodeIndex};
use crate::catalog::CatalogError;
use crate::parser::{Column, E_SEMANTIC_ERROR, Exec, Expression, Parsed, parse_script};

/// What running a statement gave.
#[derive(Debug)]
pub enum Outcome {
    /// It ended: its result set, or NebulaGraph's code and message.
    Done(Result<Option<DataSet>, (i32, String)>),
    /// A task runs it and reports back.
    Later,
}

fn failed(code: i32, message: impl Into<String>) -> Outcome {
    Outcome::Done(Err((code, message.into())))
}

fn refused(error: &PermissionError) -> Outcome {
    failed(error.code(), error.to_string())
}

/// Runs `text` (one statement, or a script the parser refused) for `query` on node `index`.
pub fn run(
    actor: &mut Actor,
    index: NodeIndex,
    query: QueryStart,
    text: &str,
    parameters: &Parameters,
) -> Outcome {
    let parsed = match parse_script(text) {
        Err(refusal) => return failed(refusal.code, refusal.message),
        Ok(mut pieces) if pieces.len() == 1 => pieces.remove(0).parsed,
        Ok(_) => return failed(E_EXECUTION_ERROR, "internal error: a script reached the executor"),
    };
    if let Some(permission) = permission_of(&parsed) {
        if let Err(error) = validate_statement(&actor.roles, &permission) {
            return refused(&error);
        }
        // NebulaGraph looks the named space up before its permission check (`UseValidator` and
        // `ShowRolesInSpaceValidator` in `validateImpl`; `GrantRoleExecutor` and
        // `RevokeRoleExecutor` before `canWriteRole`): whoever asks hears `SpaceNotFound`.
        if let Some(space) = named_space(&parsed)
            && !actor.catalog.contains(space)
        {
            return failed(E_EXECUTION_ERROR, space_not_found(space));
        }
        if let Err(error) = check_statement(&query.caller, actor.policy, &permission) {
            return refused(&error);
        }
    }
    match parsed {
        Parsed::Session(statement) => missing_space(actor, &statement),
        Parsed::Exec(exec) => execute(actor, index, query, exec, parameters),
        // The actor runs a pipe's source as a statement of its own and its stages itself.
        Parsed::Pipe(_) => failed(E_EXECUTION_ERROR, "internal error: a pipe reached the executor"),
    }
}

/// The permission crate's kind of a statement the executor runs.
fn permission_of(parsed: &Parsed) -> Option<Permission<'_>> {
    Some(match parsed {
        Parsed::Session(SessionStatement::Use { space }) => Permission::Use { space },
        Parsed::Session(SessionStatement::Grant { role, space, user }) => {
            Permission::Grant { role: *role, space, user }
        }
        Parsed::Session(SessionStatement::Revoke { role, space, user }) => {
            Permission::Revoke { role: *role, space, user }
        }
        Parsed::Session(_) | Parsed::Pipe(_) => return None,
        Parsed::Exec(exec) => match exec {
            Exec::Yield { is_return: false, .. } => Permission::Yield,
            Exec::Yield { is_return: true, .. } => Permission::Return,
            Exec::ShowSpaces => Permission::ShowSpaces,
            Exec::ShowHosts { .. } => Permission::ShowHosts,
            Exec::ShowUsers => Permission::ShowUsers,
            Exec::DescribeUser { user } => Permission::DescribeUser { user },
            Exec::ShowRoles { space } => Permission::ShowRoles { space },
            Exec::CreateSpace { .. } => Permission::CreateSpace,
            Exec::DropSpace { .. } => Permission::DropSpace,
            Exec::ChangePassword { .. } => Permission::ChangePassword,
            Exec::Fail { .. } => return None,
        },
    })
}

/// The space a statement names, which must exist before its permission is checked.
fn named_space(parsed: &Parsed) -> Option<&str> {
    match parsed {
        Parsed::Session(
            SessionStatement::Use { space }
            | SessionStatement::Grant { space, .. }
            | SessionStatement::Revoke { space, .. },
        )
        | Parsed::Exec(Exec::ShowRoles { space }) => Some(space),
        Parsed::Session(_) | Parsed::Exec(_) | Parsed::Pipe(_) => None,
    }
}

/// NebulaGraph's answer for a space that does not exist.
pub fn space_not_found(space: &str) -> String {
    format!("SpaceNotFound: SpaceName `{space}`")
}

/// USE, GRANT or REVOKE reach the executor only when their space did not exist.
fn missing_space(actor: &Actor, statement: &SessionStatement) -> Outcome {
    let space = match statement {
        SessionStatement::Use { space }
        | SessionStatement::Grant { space, .. }
        | SessionStatement::Revoke { space, .. } => space,
        other => {
            return failed(E_EXECUTION_ERROR, format!("internal error: {other:?} on the executor"));
        }
    };
    if actor.catalog.contains(space) {
        // Created while the statement waited: it is not run twice behind the client's back.
        return failed(E_EXECUTION_ERROR, format!("space `{space}' was created meanwhile; retry"));
    }
    failed(E_EXECUTION_ERROR, space_not_found(space))
}

fn execute(
    actor: &mut Actor,
    index: NodeIndex,
    query: QueryStart,
    exec: Exec,
    parameters: &Parameters,
) -> Outcome {
    match exec {
        Exec::Yield { columns, .. } => yield_columns(actor, index, query, &columns, parameters),
        Exec::ShowSpaces => show::spaces(actor, &query.caller),
        Exec::ShowHosts { role } => show::hosts(actor, role),
        Exec::ShowUsers => show::users(actor),
        Exec::DescribeUser { user } => show::describe_user(actor, &user),
        Exec::ShowRoles { space } => show::roles(actor, &query.caller, &space),
        Exec::CreateSpace { space, if_not_exists } => match actor.catalog.create(&space) {
            Ok(Ok(())) => Outcome::Done(Ok(None)),
            Ok(Err(CatalogError::Exists)) if if_not_exists => Outcome::Done(Ok(None)),
            Ok(Err(error)) => failed(E_EXECUTION_ERROR, error.to_string()),
            Err(error) => failed(E_EXECUTION_ERROR, format!("{error:#}")),
        },
        Exec::DropSpace { space, if_exists } => drop_space(actor, &query, &space, if_exists),
        Exec::ChangePassword { user, old, new } => {
            tasks::change_password(actor, index, &query, user, old, new)
        }
        Exec::Fail { code, message } => failed(code, message),
    }
}

fn drop_space(actor: &mut Actor, query: &QueryStart, space: &str, if_exists: bool) -> Outcome {
    match actor.catalog.drop_space(space) {
        Ok(Ok(())) => {}
        Ok(Err(CatalogError::NotFound { .. })) if if_exists => return Outcome::Done(Ok(None)),
        Ok(Err(error)) => return failed(E_EXECUTION_ERROR, error.to_string()),
        Err(error) => return failed(E_EXECUTION_ERROR, format!("{error:#}")),
    }
    // The roles held in it go with it, as NebulaGraph's meta drops them.
    match actor.roles.drop_space(&query.caller, actor.policy, space) {
        Ok(()) => Outcome::Done(Ok(None)),
        Err(error) => refused(&error),
    }
}

/// YIELD and RETURN: one row of constants and parameters; a `graphd_sleep` column makes the
/// statement wait (on a task) before it answers.
fn yield_columns(
    actor: &Actor,
    index: NodeIndex,
    query: QueryStart,
    columns: &[Column],
    parameters: &Parameters,
) -> Outcome {
    let mut data = DataSet::with_columns(&[]);
    let mut row = Vec::new();
    let mut sleep_ms: u64 = 0;
    for column in columns {
        data.column_names.push(column.name.clone());
        let value = match &column.expression {
            Expression::Literal(value) => value.clone(),
            Expression::Parameter(name) => match parameter(parameters, name) {
                Ok(value) => value,
                Err(outcome) => return outcome,
            },
            Expression::Sleep { ms } => {
                sleep_ms = sleep_ms.saturating_add(*ms);
                Value::Int(i64::try_from(*ms).unwrap_or(i64::MAX))
            }
        };
        row.push(value);
    }
    data.rows.push(row);
    if sleep_ms == 0 {
        return Outcome::Done(Ok(Some(data)));
    }
    tasks::sleep(actor, index, query, sleep_ms, data)
}

/// A parameter's value: the scalar kinds a session statement's result can hold.
fn parameter(parameters: &Parameters, name: &str) -> Result<Value, Outcome> {
    let Some(value) = parameters.get(name) else {
        return Err(failed(
            E_SEMANTIC_ERROR,
            format!("SemanticError: Undefined parameter `{name}'"),
        ));
    };
    Ok(match value {
        WireValue::nVal(_) => Value::Null,
        WireValue::bVal(flag) => Value::Bool(*flag),
        WireValue::iVal(int) => Value::Int(*int),
        WireValue::fVal(float) => Value::Float(float.0),
        WireValue::sVal(bytes) => Value::Str(String::from_utf8_lossy(bytes).into_owned()),
        _ => {
            let message =
                format!("graphd returns only null, bool, int, float and string: `${name}'");
            return Err(failed(E_EXECUTION_ERROR, message));
        }
    })
}
