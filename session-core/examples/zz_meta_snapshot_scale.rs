//! Throwaway: meta snapshot cost at scale (not committed).
#![allow(missing_docs, clippy::unwrap_used, clippy::disallowed_methods, clippy::disallowed_types)]
use graphsession_core::cluster::{
    MetaConfig, MetaStore, NodeId, Request, RequestId, SessionReport,
};
use graphsession_id_gen::SessionId;
fn main() {
    let n: u64 = std::env::args().nth(1).map_or(100_000, |s| s.parse().unwrap());
    let mut store = MetaStore::new(MetaConfig::default()).unwrap();
    let now = 1_763_900_000_000_u64;
    let mut round = 0;
    let mut next = 1_u64;
    while next <= n {
        round += 1;
        let mut request = Request::empty(RequestId { incarnation: 1, round });
        for _ in 0..512 {
            if next > n {
                break;
            }
            let id = SessionId::new(i64::try_from(next * 7_919 + 1_000_000_000).unwrap()).unwrap();
            request.created.push(SessionReport::logged_in(
                id,
                "alice",
                &format!("10.0.{}.{}", next % 250, next % 7),
                now,
            ));
            next += 1;
        }
        let _ = store.handle_request(now, NodeId(1), request);
    }
    if n <= 3 {
        println!("{}", serde_json::to_string(&store.snapshot()).unwrap());
        return;
    }
    let t = std::time::Instant::now();
    let snap = store.snapshot();
    let t1 = t.elapsed();
    let bytes = serde_json::to_vec(&snap).unwrap();
    let t2 = t.elapsed();
    let back: graphsession_core::cluster::MetaSnapshot = serde_json::from_slice(&bytes).unwrap();
    let t3 = t.elapsed();
    let restored = MetaStore::restore(MetaConfig::default(), back);
    let t4 = t.elapsed();
    println!(
        "{n} sessions: snapshot {t1:?}, json {:?} ({} bytes, {} per session), decode {:?}, restore {:?} ok={}",
        t2 - t1,
        bytes.len(),
        bytes.len() as u64 / n,
        t3 - t2,
        t4 - t3,
        restored.is_ok()
    );
}
