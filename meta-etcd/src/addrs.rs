//! Each node's `host:port`, shared through etcd so that SHOW SESSIONS on any graphd shows the
//! address of the graph node that owns a session (NebulaGraph's GraphAddr column; NebulaGraph's
//! meta service knows every graphd's address from its heartbeats and keeps an offline host's).
//! A process writes its slots' addresses once it has claimed them ([`publish`]) and follows
//! every process's ([`follow`]): the whole map is delivered at start and after every change, as
//! a [`Delivery::Peers`]. The keys are durable, not bound to the lease: a slot's address stays
//! until the slot's next owner writes its own, so a session a dead node owned is still shown
//! with that node's address (NebulaGraph lists an offline host the same way).

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tokio::sync::mpsc;

use crate::call::bounded;
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::replica::Delivery;

const REWATCH_MS: u64 = 200;

/// Writes each `(slot, host:port)` of this process (slots it holds: no other writer).
pub(crate) async fn publish(
    client: &mut Client,
    keys: &Keys,
    own: &[(u16, String)],
    timeout_ms: u64,
) -> Result<(), MetaEtcdError> {
    for (slot, addr) in own {
        bounded(timeout_ms, client.put(keys.addr(*slot), addr.as_str(), None)).await?;
    }
    Ok(())
}

/// Follows every node's address until the host goes away (or the task is aborted).
pub(crate) async fn follow(
    mut client: Client,
    keys: Keys,
    deliveries: mpsc::Sender<Delivery>,
    timeout_ms: u64,
) {
    let mut known: BTreeMap<u16, String> = BTreeMap::new();
    loop {
        let options = GetOptions::new().with_prefix();
        if let Ok(found) = bounded(timeout_ms, client.get(keys.addrs(), Some(options))).await {
            for kv in found.kvs() {
                learn(&keys, &mut known, kv.key(), kv.value());
            }
            if deliveries.send(Delivery::Peers(known.clone())).await.is_err() {
                return;
            }
            let from = found.header().map_or(0, |header| header.revision()) + 1;
            let options = WatchOptions::new().with_prefix().with_start_revision(from);
            if let Ok(mut stream) =
                bounded(timeout_ms, client.watch(keys.addrs(), Some(options))).await
            {
                while let Ok(Some(response)) = stream.message().await {
                    if response.canceled() {
                        break;
                    }
                    let puts =
                        response.events().iter().filter(|e| e.event_type() == EventType::Put);
                    let mut changed = false;
                    for kv in puts.filter_map(|event| event.kv()) {
                        changed |= learn(&keys, &mut known, kv.key(), kv.value());
                    }
                    if changed && deliveries.send(Delivery::Peers(known.clone())).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(REWATCH_MS)).await;
    }
}

/// Notes one address; whether it changed the map.
fn learn(keys: &Keys, known: &mut BTreeMap<u16, String>, key: &[u8], value: &[u8]) -> bool {
    let Some(slot) = keys.slot_of_addr_key(key) else { return false };
    let addr = String::from_utf8_lossy(value).into_owned();
    known.insert(slot, addr.clone()) != Some(addr)
}
