//! The semantic checks of a statement: what NebulaGraph's `Validator::validate` runs (each
//! validator's `validateImpl`) before it checks any permission.
//!
//! A statement that can never succeed is refused as such (-1009, `SemanticError: ...`) whoever asks,
//! with authorization on or off, before anyone is told whether they would have had the right to run
//! it: `GRANT ... TO root` is "User 'root' is GOD, cannot be granted." for root itself as for a GUEST.
//! An engine's validator therefore calls [`validate_statement`] first and
//! [`check_statement`](crate::check_statement) second, and the role table's transitions run the same
//! checks in the same place (see docs/fixes.md, "Order of checks").
//!
//! This crate can tell from names and the role table: a user or space name out of bounds, a GRANT to a
//! GOD user. Two semantic checks of NebulaGraph need what only the engine knows, and the engine runs
//! them before this crate's permission checks too: `SemanticError: Space was not chosen.` for a
//! statement of the current space before any USE, and a named space that does not exist.

use crate::error::PermissionError;
use crate::names::{check_space_name, check_user_name};
use crate::statement::Statement;
use crate::table::RoleTable;

/// NebulaGraph's semantic checks of `statement` that names and `table` can decide: user and space
/// names within bounds, and no GRANT to a GOD user. Call it before
/// [`check_statement`](crate::check_statement); EXPLAIN and PROFILE are checked as the statement
/// inside.
///
/// CREATE, ALTER and DROP USER carry no name in [`Statement`]: their name checks run in
/// [`RoleTable::create_user`] and [`RoleTable::drop_user`], first as here, and an engine's ALTER USER
/// checks the name itself before its permission check.
pub fn validate_statement(
    table: &RoleTable,
    statement: &Statement<'_>,
) -> Result<(), PermissionError> {
    let mut statement = *statement;
    while let Statement::Explain { inner } | Statement::Profile { inner } = statement {
        statement = *inner;
    }
    match statement {
        Statement::Use { space }
        | Statement::DescribeSpace { space }
        | Statement::ShowCreateSpace { space }
        | Statement::ShowRoles { space } => check_space_name(space),
        Statement::DescribeUser { user } => check_user_name(user),
        Statement::Grant { space, user, .. } => {
            check_user_name(user)?;
            check_space_name(space)?;
            check_grant_target(table, user)
        }
        Statement::Revoke { space, user, .. } => {
            check_user_name(user)?;
            check_space_name(space)
        }
        // No other kind names a user or a space that this crate could judge.
        _ => Ok(()),
    }
}

/// GRANT to a GOD user: GOD is everything everywhere, so a space role would mean nothing
/// (NebulaGraph's `GrantRoleValidator::validateImpl`). An unknown user passes here; the transition
/// refuses it after the permission check, as NebulaGraph's meta does.
fn check_grant_target(table: &RoleTable, user: &str) -> Result<(), PermissionError> {
    if table.is_god_user(user) {
        return Err(PermissionError::GodCannotBeGranted { user: user.to_owned() });
    }
    Ok(())
}

/// DROP USER of a GOD user: refused in both authorization modes, after the write-user permission
/// check, where NebulaGraph's `DropUserValidator::checkPermission` refuses `DROP USER root` (see
/// docs/fixes.md, "DROP USER of a GOD user").
pub(crate) fn check_drop_target(table: &RoleTable, user: &str) -> Result<(), PermissionError> {
    if table.is_god_user(user) {
        return Err(PermissionError::GodUserNotDroppable { user: user.to_owned() });
    }
    Ok(())
}
