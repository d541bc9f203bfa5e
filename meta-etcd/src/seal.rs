//! The cluster's one seal key (`P seal-key`, next to `P config`): every graph process seals its
//! session ids with it, so ids are unique across processes (two keys are two permutations, which
//! can map two processes' distinct counters to one id; see id-gen's `SealKey`). The first process
//! to start writes the key it was given, in a transaction that requires the key absent; every
//! other process reads the one that won. The value is the key's text form (`SealKey::to_hex`) and
//! is checked when read: a malformed value refuses the start ([`MetaEtcdError::BadSealKey`]).
//!
//! The key is as secret as etcd itself: etcd already holds every live session id (the
//! credential a client sends with each statement), so whoever reads etcd has the cluster anyway.

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
use graphsession_id_gen::SealKey;

use crate::call::bounded;
use crate::error::MetaEtcdError;
use crate::keys::Keys;

/// The cluster's seal key: `candidate` if this process is the first to write one, else the key
/// already in etcd, checked.
pub(crate) async fn agree(
    client: &mut Client,
    keys: &Keys,
    candidate: SealKey,
    timeout_ms: u64,
) -> Result<SealKey, MetaEtcdError> {
    let key = keys.seal_key();
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), candidate.to_hex(), None)])
        .or_else([TxnOp::get(key.clone(), None)]);
    let response = bounded(timeout_ms, client.txn(txn)).await?;
    if response.succeeded() {
        return Ok(candidate);
    }
    let stored = response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.value().to_vec()),
        _ => None,
    });
    // The compare failed, so the key existed; absent now means it was deleted in between.
    let Some(stored) = stored else {
        return Err(MetaEtcdError::Corrupt { key, detail: "deleted while read".to_owned() });
    };
    SealKey::from_hex(&stored).map_err(|source| MetaEtcdError::BadSealKey { key, source })
}
