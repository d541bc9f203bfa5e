//! The data directory (`--data_path`): every file graphd keeps, each written atomically (a
//! temporary file, fsync, rename, fsync of the directory) and checked on load.
//!
//! Files of graphd's own (users, roles, spaces, leases, the seal key, the meta store) share one
//! envelope: a first line `graphd <kind> v<version> fnv1a64=<16 hex digits> bytes=<length>`, then
//! the body (JSON). The checksum is FNV-1a-64 of the body's bytes (the workspace's one hash,
//! `graphsession_base::fnv1a64`); a file whose header, length or checksum does not match is
//! refused with a message naming it, and graphd does not start. A node's registry snapshot is
//! `Snapshot::to_bytes`, which has its own magic, version and checksum.
//!
//! Every file is created readable and writable by the owner only (0600), in a directory only
//! the owner may enter (0700). This module is one of graphd's edges: it alone touches files.
#![expect(clippy::disallowed_methods, reason = "graphd's edge: the data directory's files")]

pub mod leases;
pub mod seal;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use graphsession_base::fnv1a64;

/// The owner-only mode of every file graphd writes.
pub const FILE_MODE: u32 = 0o600;
/// The owner-only mode of the data directory.
pub const DIR_MODE: u32 = 0o700;

/// The data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens `root`, creating it (0700) when missing.
    pub fn open(root: &Path) -> Result<DataDir> {
        if !root.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(root)
                .with_context(|| format!("cannot create the data directory {}", root.display()))?;
        }
        if !root.is_dir() {
            bail!("--data_path {} is not a directory", root.display());
        }
        Ok(DataDir { root: root.to_path_buf() })
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `bytes` to `name` atomically, owner-only.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(name);
        let temporary = self.path(&format!("{name}.tmp"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        // A file created earlier with a wider mode is narrowed, not trusted.
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &path).with_context(|| {
            format!("cannot rename {} to {}", temporary.display(), path.display())
        })?;
        // The rename is durable only once the directory is.
        std::fs::File::open(&self.root)?.sync_all()?;
        Ok(())
    }

    /// The bytes of `name`, `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Refuses to go on when `name` may be read by anyone but its owner.
    pub fn check_owner_only(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        let mode = std::fs::metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} has mode {:o}: it holds a secret and must be readable by its owner only \
                 (chmod 600 it)",
                path.display(),
                mode & 0o777
            );
        }
        Ok(())
    }

    /// Writes `body` as a checked file of `kind` (see the module docs).
    pub fn write_checked(&self, name: &str, kind: &str, body: &[u8]) -> Result<()> {
        self.write_atomic(name, &envelope(kind, body))
    }

    /// Reads a checked file of `kind`: its body, `None` when the file does not exist, an error
    /// naming the file when it is corrupt.
    pub fn read_checked(&self, name: &str, kind: &str) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.read(name)? else { return Ok(None) };
        let path = self.path(name);
        open_envelope(kind, &bytes)
            .map(Some)
            .with_context(|| format!("{} is corrupt; graphd will not start on it", path.display()))
    }

    /// Writes `value` as JSON in a checked file.
    pub fn write_json<T: serde::Serialize>(&self, name: &str, kind: &str, value: &T) -> Result<()> {
        let body = serde_json::to_vec_pretty(value)?;
        self.write_checked(name, kind, &body)
    }

    /// Reads a checked JSON file.
    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        kind: &str,
    ) -> Result<Option<T>> {
        let Some(body) = self.read_checked(name, kind)? else { return Ok(None) };
        let path = self.path(name);
        let value = serde_json::from_slice(&body).with_context(|| {
            format!("{} is corrupt (its checksum holds but its JSON does not)", path.display())
        })?;
        Ok(Some(value))
    }
}

/// The version of the envelope's format.
const ENVELOPE_VERSION: u32 = 1;

/// A checked file's bytes: the header line, then `body`.
pub fn envelope(kind: &str, body: &[u8]) -> Vec<u8> {
    let header = format!(
        "graphd {kind} v{ENVELOPE_VERSION} fnv1a64={:016x} bytes={}\n",
        fnv1a64(body),
        body.len()
    );
    let mut bytes = header.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The body of a checked file of `kind`, after checking its header, length and checksum.
pub fn open_envelope(kind: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let Some(newline) = bytes.iter().position(|byte| *byte == b'\n') else {
        bail!("no header line");
    };
    let header = std::str::from_utf8(&bytes[..newline]).context("the header is not text")?;
    let body = &bytes[newline + 1..];
    let words: Vec<&str> = header.split(' ').collect();
    let [magic, found_kind, version, checksum, length] = words.as_slice() else {
        bail!("the header {header:?} does not have five words");
    };
    if *magic != "graphd" || *found_kind != kind {
        bail!("the header {header:?} is not that of a graphd {kind} file");
    }
    if *version != format!("v{ENVELOPE_VERSION}") {
        bail!("format {version} is not supported (this graphd reads v{ENVELOPE_VERSION})");
    }
    let length: usize = (length.strip_prefix("bytes="))
        .and_then(|text| text.parse().ok())
        .context("the header's length is unreadable")?;
    if length != body.len() {
        bail!("the header says {length} bytes, the file has {} (truncated?)", body.len());
    }
    let stored = (checksum.strip_prefix("fnv1a64="))
        .and_then(|text| u64::from_str_radix(text, 16).ok())
        .context("the header's checksum is unreadable")?;
    let computed = fnv1a64(body);
    if stored != computed {
        bail!("checksum mismatch: stored {stored:016x}, computed {computed:016x}");
    }
    Ok(body.to_vec())
}
