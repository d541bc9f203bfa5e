//! The snapshot's byte form at its edge: a body with bytes past its last record, under a
//! checksum and a length that cover them (what a writer bug or a half-updated file leaves), is
//! refused; the same body rebuilt without them reads back. Run beside the workload on a node's
//! real snapshot: it reads, never feeds the world.

use graphsession_base::fnv1a64;
use graphsession_core::server::Snapshot;

use crate::world::Checked;

/// Bytes of [`Snapshot::to_bytes`] ahead of the checksum: magic and format version.
const MAGIC_AND_VERSION_BYTES: usize = 8 + 4;
/// Bytes of [`Snapshot::to_bytes`] before the body: magic, version, checksum, body length.
const HEADER_BYTES: usize = MAGIC_AND_VERSION_BYTES + 8 + 8;

/// `body` under the header of `bytes`, with its own checksum and length.
fn framed(bytes: &[u8], body: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(HEADER_BYTES + body.len());
    framed.extend_from_slice(bytes.get(..MAGIC_AND_VERSION_BYTES).unwrap_or_default());
    framed.extend_from_slice(&fnv1a64(body).to_le_bytes());
    framed.extend_from_slice(&u64::try_from(body.len()).unwrap_or(u64::MAX).to_le_bytes());
    framed.extend_from_slice(body);
    framed
}

/// Node `node`'s snapshot reads back when reframed as written, and is refused with one byte
/// past its body's last record inside the checksummed length.
pub(super) fn check_body_trailing(node: u16, snapshot: &Snapshot) -> Checked {
    let bytes = snapshot.to_bytes();
    let body = bytes.get(HEADER_BYTES..).unwrap_or_default();
    match Snapshot::from_bytes(&framed(&bytes, body)) {
        Ok(read) if read == *snapshot => {}
        other => {
            return Err(format!(
                "[snapshot_refusal] node {node}'s snapshot reframed as written read as \
                 {other:?}; expected the snapshot"
            ));
        }
    }
    let mut longer = body.to_vec();
    longer.push(0);
    if let Ok(read) = Snapshot::from_bytes(&framed(&bytes, &longer)) {
        return Err(format!(
            "[snapshot_refusal] node {node}'s snapshot with a byte past its body's last record \
             (checksum and length covering it) read as {:?}; expected trailing bytes refused",
            read.body
        ));
    }
    Ok(())
}
