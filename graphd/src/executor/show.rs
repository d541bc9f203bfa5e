//! The listings graphd's executor answers from what the actor owns: SHOW SPACES (rows filtered
//! by the permission crate), SHOW HOSTS (graphd's own nodes and meta), SHOW USERS, SHOW ROLES
//! IN (rows filtered by the permission crate), DESC USER.

use graphsession_core::node::{DataSet, Value};
use graphsession_permission::{Caller, may_see_role_row, may_see_space};

use crate::actor::Actor;
use graphsession_core::client::E_EXECUTION_ERROR;

use crate::executor::{Outcome, failed};
use crate::parser::HostRole;

fn text(value: &str) -> Value {
    Value::Str(value.to_owned())
}

/// SHOW SPACES: the spaces the caller may see, in name order.
pub(super) fn spaces(actor: &Actor, caller: &Caller) -> Outcome {
    let mut data = DataSet::with_columns(&["Name"]);
    for space in actor.catalog.spaces().filter(|space| may_see_space(caller, actor.policy, space)) {
        data.rows.push(vec![text(space)]);
    }
    Outcome::Done(Ok(Some(data)))
}

/// SHOW HOSTS: graphd has no storage service, so plain SHOW HOSTS lists its graph nodes
/// (NebulaGraph's SHOW HOSTS GRAPH columns); META lists the embedded meta store; STORAGE, AGENT
/// and STORAGE LISTENER are empty. Every kind has NebulaGraph's git-info columns, as its
/// `ShowHostsExecutor` gives every kind but plain SHOW HOSTS.
pub(super) fn hosts(actor: &Actor, role: HostRole) -> Outcome {
    let version = env!("CARGO_PKG_VERSION");
    let mut data =
        DataSet::with_columns(&["Host", "Port", "Status", "Role", "Git Info Sha", "Version"]);
    match role {
        HostRole::Graph => {
            for host in &actor.nodes {
                let (address, port) = host.addr.rsplit_once(':').unwrap_or((&host.addr, "0"));
                let port = port.parse().unwrap_or(0);
                let row = [text(address), Value::Int(port), text("ONLINE"), text("GRAPH")];
                data.rows.push(row.into_iter().chain([text(""), text(version)]).collect());
            }
        }
        HostRole::Meta => {
            let row = [text(&actor.local_ip), Value::Int(0), text("ONLINE"), text("META")];
            data.rows.push(row.into_iter().chain([text(""), text(version)]).collect());
        }
        HostRole::Storage | HostRole::Agent | HostRole::StorageListener => {}
    }
    Outcome::Done(Ok(Some(data)))
}

/// SHOW USERS: every account (GOD only, checked before).
pub(super) fn users(actor: &Actor) -> Outcome {
    let mut data = DataSet::with_columns(&["Account"]);
    for user in actor.roles.users() {
        data.rows.push(vec![text(user)]);
    }
    Outcome::Done(Ok(Some(data)))
}

/// SHOW ROLES IN `space`: the rows the caller may see.
pub(super) fn roles(actor: &Actor, caller: &Caller, space: &str) -> Outcome {
    let mut data = DataSet::with_columns(&["Account", "Role Type"]);
    for (user, role) in actor.roles.roles_in_space(space) {
        if may_see_role_row(caller, actor.policy, space, user) {
            data.rows.push(vec![text(user), text(&role.to_string())]);
        }
    }
    Outcome::Done(Ok(Some(data)))
}

/// DESC USER `user` (the caller may read the user: checked before): one row per space with
/// the role held there, or `GOD` with an empty space; NebulaGraph's meta error, as an
/// execution error, for a user that does not exist.
pub(super) fn describe_user(actor: &Actor, user: &str) -> Outcome {
    let Some(rights) = actor.roles.rights_of(user) else {
        return failed(E_EXECUTION_ERROR, "User not existed!");
    };
    let mut data = DataSet::with_columns(&["role", "space"]);
    if rights.is_god() {
        data.rows.push(vec![text("GOD"), text("")]);
    }
    for (space, role) in rights.roles() {
        data.rows.push(vec![text(&role.to_string()), text(space)]);
    }
    Outcome::Done(Ok(Some(data)))
}
