//! The key that seals session ids (`graphsession_id_gen::SealKey`): 128 bits drawn from the
//! operating system's randomness on first start, kept in `seal.key` (owner-only, checked), and
//! the same for every node of this process and every later start, so ids issued before a restart
//! still open after it. This is the only place graphd draws OS randomness besides password salts.

use anyhow::{Context, Result, bail};
use graphsession_id_gen::SealKey;

use crate::store::DataDir;

/// The file's name in the data directory.
pub const SEAL_KEY_FILE: &str = "seal.key";
const KIND: &str = "seal-key";

#[derive(serde::Serialize, serde::Deserialize)]
struct SealKeyFile {
    /// The 16 key bytes, hex.
    key_hex: String,
}

/// The data directory's seal key, created on first start.
pub fn load_or_create(dir: &DataDir) -> Result<SealKey> {
    if dir.path(SEAL_KEY_FILE).exists() {
        dir.check_owner_only(SEAL_KEY_FILE)?;
        let Some(file) = dir.read_json::<SealKeyFile>(SEAL_KEY_FILE, KIND)? else {
            bail!("{} vanished while graphd read it", dir.path(SEAL_KEY_FILE).display());
        };
        return parse_key(&file.key_hex)
            .with_context(|| format!("{} is corrupt", dir.path(SEAL_KEY_FILE).display()));
    }
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("the OS gave no randomness for the seal key: {error}"))?;
    let key_hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    dir.write_json(SEAL_KEY_FILE, KIND, &SealKeyFile { key_hex })?;
    Ok(SealKey::from_bytes(bytes))
}

fn parse_key(hex: &str) -> Result<SealKey> {
    if hex.len() != 32 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        bail!("the key is not 32 hex digits");
    }
    let mut bytes = [0_u8; 16];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16)?;
    }
    Ok(SealKey::from_bytes(bytes))
}
