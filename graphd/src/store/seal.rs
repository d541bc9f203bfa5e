//! The key that seals session ids (`graphsession_id_gen::SealKey`), 128 bits drawn from the
//! operating system's randomness. This is the only place graphd draws OS randomness besides
//! password salts.
//!
//! - Embedded meta (the default): drawn on first start and kept in `seal.key` (owner-only,
//!   checked; the key's text form, `SealKey::to_hex`), the same for every node of this process
//!   and every later start, so ids issued before a restart still open after it.
//! - Meta in etcd: every graphd of the cluster must seal with one key (two keys can issue one
//!   id), so the key is the cluster's, kept in etcd next to its configuration
//!   (`graphsession-meta-etcd`'s `seal.rs`): each graphd offers a freshly drawn key
//!   ([`draw`]) and the first one written wins. `seal.key` is neither read nor written then;
//!   one left by the embedded mode stays for that mode and is not used ([`note_unused`]).

use anyhow::{Context, Result, bail};
use graphsession_id_gen::SealKey;

use crate::logging::log;
use crate::store::DataDir;

/// The file's name in the data directory.
pub const SEAL_KEY_FILE: &str = "seal.key";
const KIND: &str = "seal-key";

#[derive(serde::Serialize, serde::Deserialize)]
struct SealKeyFile {
    /// The 16 key bytes, hex.
    key_hex: String,
}

/// The data directory's seal key (embedded meta), created on first start.
pub fn load_or_create(dir: &DataDir) -> Result<SealKey> {
    if dir.path(SEAL_KEY_FILE).exists() {
        dir.check_owner_only(SEAL_KEY_FILE)?;
        let Some(file) = dir.read_json::<SealKeyFile>(SEAL_KEY_FILE, KIND)? else {
            bail!("{} vanished while graphd read it", dir.path(SEAL_KEY_FILE).display());
        };
        return SealKey::from_hex(file.key_hex.as_bytes())
            .with_context(|| format!("{} is corrupt", dir.path(SEAL_KEY_FILE).display()));
    }
    let key = draw()?;
    dir.write_json(SEAL_KEY_FILE, KIND, &SealKeyFile { key_hex: key.to_hex() })?;
    Ok(key)
}

/// A new key from the operating system's randomness.
pub fn draw() -> Result<SealKey> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("the OS gave no randomness for the seal key: {error}"))?;
    Ok(SealKey::from_bytes(bytes))
}

/// With meta in etcd: says so when the data directory holds a `seal.key` (from the embedded
/// mode), which the cluster's key replaces while graphd runs on etcd.
pub fn note_unused(dir: &DataDir) {
    if dir.path(SEAL_KEY_FILE).exists() {
        log!(
            "{} is not used with meta in etcd: session ids are sealed with the cluster's key",
            dir.path(SEAL_KEY_FILE).display()
        );
    }
}
