//! SHOW SESSIONS from meta, in the server's row format: NebulaGraph's SHOW SESSIONS reads meta
//! (as stale as the nodes' last rounds), SHOW LOCAL SESSIONS reads the node's own registry
//! ([`SessionManager::show_local_sessions`](crate::server::SessionManager::show_local_sessions)).
//! Both have the same columns and are GOD only.

use graphsession_permission::{Caller, PermissionError, Policy, check_show_sessions};

use crate::cluster::messages::{NodeId, Page, SessionRecord};
use crate::server::SessionRow;

/// The SHOW SESSIONS rows of a meta `page` for `caller` (GOD only, -1008 "No permission to
/// show users/snapshots/serviceClients"; passes with authorization off). `graph_addr` names a
/// node's "host:port", which only the host knows.
pub fn show_sessions_rows(
    caller: &Caller,
    policy: Policy,
    page: &Page,
    graph_addr: impl Fn(NodeId) -> String,
) -> Result<Vec<SessionRow>, PermissionError> {
    check_show_sessions(caller, policy)?;
    Ok(page.records.iter().map(|record| session_row(record, graph_addr(record.owner))).collect())
}

/// One meta record as a SHOW SESSIONS row (times in microseconds, as NebulaGraph shows them).
#[must_use]
pub fn session_row(record: &SessionRecord, graph_addr: String) -> SessionRow {
    SessionRow {
        session_id: record.session,
        user_name: record.user.clone(),
        space_name: record.space.clone(),
        create_time_unix_us: record.created_unix_ms.saturating_mul(1_000),
        update_time_unix_us: record.last_activity_unix_ms.saturating_mul(1_000),
        graph_addr,
        timezone: 0,
        client_ip: record.client_ip.clone(),
    }
}
