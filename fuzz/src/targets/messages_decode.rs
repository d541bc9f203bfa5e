//! Every serialized message a host parses from the network or a store, as JSON (the first byte
//! picks the type): cluster requests and answers, the client's wire requests and responses, the
//! role table, session and plan ids. Bad bytes must give a typed error, never a panic; a decoded
//! value must survive a round trip (encode, decode, same value). Then each decoded message goes
//! where a host would send it: a request to a meta store, an answer (as the answer to the request
//! in flight, and again as a late duplicate) to a node's `NodeSync`, a role table through its
//! invariants; every machine's invariants must hold afterwards.

use arbitrary::Unstructured;
use graphsession_core::client;
use graphsession_core::cluster::{Answer, MetaStore, NodeId, NodeSync, Request};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::RoleTable;
use graphsession_query_plan::QueryKey;

use super::cluster_support::{FakeLocal, START, fast_node_config, sid};
use super::index;
use super::meta_store::CONFIG;

/// The types, in the order of the selector byte.
pub const TYPES: [&str; 7] = [
    "cluster request",
    "cluster answer",
    "client request",
    "client response",
    "role table",
    "session id",
    "plan id",
];

/// Decodes `$json` as `$type`: `None` for bad bytes; a success must encode and decode to the
/// same value.
macro_rules! round_trip {
    ($type:ty, $json:expr) => {
        serde_json::from_slice::<$type>($json).ok().inspect(|value| {
            let again = serde_json::to_vec(value);
            let again = again.unwrap_or_else(|error| panic!("{value:?} does not encode: {error}"));
            let back = serde_json::from_slice::<$type>(&again);
            let back =
                back.unwrap_or_else(|error| panic!("{value:?} does not decode again: {error}"));
            assert_eq!(&back, value, "a round trip changed the value");
        })
    };
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(kind) = index(&mut u, TYPES.len()) else { return };
    let json = u.take_rest();
    match kind {
        0 => {
            if let Some(request) = round_trip!(Request, json) {
                to_meta(request);
            }
        }
        1 => {
            if let Some(answer) = round_trip!(Answer, json) {
                to_node(answer);
            }
        }
        2 => drop(round_trip!(client::Request, json)),
        3 => drop(round_trip!(client::Response, json)),
        4 => {
            if let Some(table) = round_trip!(RoleTable, json)
                && let Err(violation) = table.check_invariants()
            {
                panic!("a decoded role table breaks its invariants: {violation}");
            }
        }
        5 => {
            if let Some(id) = round_trip!(SessionId, json) {
                assert!(id.get() > 0, "a decoded session id {id} is not positive");
            }
        }
        _ => drop(round_trip!(PlanId, json)),
    }
}

/// A meta store with one session handles the request from node 2.
fn to_meta(request: Request) {
    let store = MetaStore::new(CONFIG);
    let mut store = store.unwrap_or_else(|error| panic!("the fuzz meta config: {error}"));
    let id = request.id;
    let answer = store.handle_request(START, NodeId(2), request);
    assert_eq!(answer.id(), id, "the answer names another request");
    if let Err(violation) = store.check_invariants() {
        panic!("meta after a decoded request: {violation}");
    }
    let json = serde_json::to_vec(&answer).unwrap_or_default();
    assert!(round_trip!(Answer, &json).is_some(), "an answer does not decode");
}

/// A node with a session and a running query, its first request in flight, gets the answer as
/// the answer to that request, then again late.
fn to_node(answer: Answer) {
    let node = NodeSync::new(fast_node_config(), 1, START);
    let mut node = node.unwrap_or_else(|error| panic!("the fuzz node config: {error}"));
    let mut local = FakeLocal::default();
    local.login(sid(1), "alice", START);
    let _ = local.begin(QueryKey { session: sid(1), plan: PlanId::from_u64(1) }, START);
    if let Err(error) = node.announce(START, sid(1)) {
        panic!("announcing a session: {error}");
    }
    node.handle_timeout(START, &local);
    let Some(request) = node.poll_request() else { panic!("no first request") };
    let answer = match answer {
        Answer::Reply(mut reply) => {
            reply.id = request.id;
            Answer::Reply(reply)
        }
        Answer::Refused { refusal, .. } => Answer::Refused { id: request.id, refusal },
    };
    for at in [START + 1, START + 2] {
        node.handle_answer(at, answer.clone(), &mut local);
        if let Err(violation) = node.check_invariants() {
            panic!("a node after a decoded answer: {violation}");
        }
        while node.poll_event().is_some() {}
    }
    node.handle_timeout(START + 60_000, &local);
    if let Err(violation) = node.check_invariants() {
        panic!("a node after a decoded answer and a timeout: {violation}");
    }
}

/// Hand-made valid inputs: one real value of each type, as JSON after its selector byte.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut node = NodeSync::new(fast_node_config(), 1, START).ok();
    let mut local = FakeLocal::default();
    local.login(sid(1), "alice", START);
    let request = node.as_mut().and_then(|node| {
        node.announce(START, sid(1)).ok()?;
        node.handle_timeout(START, &local);
        node.poll_request()
    });
    let mut store = MetaStore::new(CONFIG).ok();
    let answer = request
        .clone()
        .and_then(|request| Some(store.as_mut()?.handle_request(START, NodeId(1), request)));
    let mut table = RoleTable::new();
    let root = graphsession_permission::Caller::resolve(&table, "root", None);
    let _ = table.create_user(&root, graphsession_permission::Policy::ENFORCED, "alice");
    let values = [
        serde_json::to_vec(&request),
        serde_json::to_vec(&answer),
        serde_json::to_vec(&client::Request::ping()),
        serde_json::to_vec(&client::Response::AuthenticateOk { session_id: 7 }),
        serde_json::to_vec(&table),
        serde_json::to_vec(&sid(42)),
        serde_json::to_vec(&PlanId::from_u64(1 << 40 | 5)),
    ];
    (0_u8..)
        .zip(values)
        .map(|(kind, json)| [vec![kind], json.unwrap_or_default()].concat())
        .collect()
}
