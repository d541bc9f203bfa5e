//! A host that reads a connection's next request before it wrote the last reply (the wire
//! allows it; graphd does not): every statement waiting on meta is answered, none replaces
//! another, and a close ends every one of them, so no statement's query outlives it.

use graphsession_core::node::SessionStatement;

use crate::node_support::remote_query;

/// The four session statements that wait on meta, each about `other`'s session (held by node 1)
/// or its query `plan`.
fn waiting_statements(other: i64, plan: u64) -> Vec<SessionStatement> {
    use graphsession_id_gen::{PlanId, SessionId};
    use graphsession_query_plan::KillTarget;
    let session = SessionId::new(other).expect("a session id the node issued");
    let target = KillTarget::Session { session, plan: PlanId::from_u64(plan) };
    vec![
        SessionStatement::ShowSessions { local: false },
        SessionStatement::ShowQueries { local: false },
        SessionStatement::KillSessions { session_ids: vec![other] },
        SessionStatement::KillQuery { target },
    ]
}

#[test]
fn two_statements_of_one_kind_waiting_on_one_connection_are_both_answered() {
    for kind in 0..4 {
        let (mut h, (admin, root), (_, session), key) = remote_query();
        let plan = key.plan.get();
        for statement in [0, 1].map(|_| waiting_statements(session, plan).swap_remove(kind)) {
            h.statement(admin, root, statement);
        }
        assert_eq!(h.reply_count(admin), 1, "kind {kind}: both wait on meta");
        h.settle();
        let replies = &h.replies(admin)[1..];
        assert_eq!(replies.len(), 2, "kind {kind}: {replies:?}");
        h.next_sync();
        assert!(h.nodes[0].registry().running_queries(h.now).is_empty(), "kind {kind}");
    }
}

#[test]
fn a_close_ends_every_statement_its_connection_had_waiting_on_meta() {
    let (mut h, (admin, root), (_, session), key) = remote_query();
    let plan = key.plan.get();
    for statement in
        waiting_statements(session, plan).into_iter().chain(waiting_statements(session, plan))
    {
        h.statement(admin, root, statement);
    }
    assert_eq!(h.nodes[0].registry().running_queries(h.now).len(), 8, "eight statements wait");
    h.close(admin);
    assert!(
        h.nodes[0].registry().running_queries(h.now).is_empty(),
        "a statement outlived its connection"
    );
    h.settle();
    assert_eq!(h.reply_count(admin), 1, "only the login was answered on the closed connection");
}
