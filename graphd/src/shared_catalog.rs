//! The catalog graphd processes share on etcd: the role table, the spaces and the users'
//! password hashes, as one value of the cluster's catalog register
//! (`graphsession_meta_etcd::CatalogRegister`). NebulaGraph keeps the same three in its meta
//! service; here they travel together because one statement may change two of them (CREATE
//! USER: a user and its hash; DROP SPACE: a space and the roles in it), and one value is
//! written in one fenced transaction.
//!
//! The value is JSON (small, read at a change and at start) with a format version of its own;
//! nothing in it is trusted before it is checked: the role table's invariants (its
//! deserialization refuses a broken one), space names and count within the permission crate's
//! bounds, and every hash a PHC string.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use argon2::password_hash::phc::PasswordHash;
use graphsession_permission::{RoleTable, SPACE_NAME_BYTES_MAX, SPACES_MAX, USERS_MAX};

/// The format this build writes and reads.
pub const SHARED_CATALOG_FORMAT_VERSION: u32 = 1;

/// Users, roles, spaces and password hashes, as one process holds them or as etcd has them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedCatalog {
    /// [`SHARED_CATALOG_FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Who holds which role where. Its version is the writer's own count and means nothing to a
    /// reader: a process takes the contents with `RoleTable::adopt`.
    pub roles: RoleTable,
    /// The spaces CREATE SPACE made.
    pub spaces: BTreeSet<String>,
    /// Each user's password as an Argon2id PHC string.
    pub hashes: BTreeMap<String, String>,
}

impl SharedCatalog {
    /// The catalog of these parts, in this build's format.
    pub fn new(
        roles: RoleTable,
        spaces: BTreeSet<String>,
        hashes: BTreeMap<String, String>,
    ) -> SharedCatalog {
        SharedCatalog { format_version: SHARED_CATALOG_FORMAT_VERSION, roles, spaces, hashes }
    }

    /// The value written to etcd, canonical: the role table's version is written as 1 (each
    /// process counts its own), so equal contents encode to equal bytes, as the turn protocol
    /// (`graphsession_core::catalog`) compares copies by their bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut normalized = RoleTable::new();
        let roles = match normalized.adopt(self.roles.clone()) {
            Ok(()) => normalized,
            // Only a table breaking its invariants is refused; keep it for the checks to name.
            Err(_) => self.roles.clone(),
        };
        let canonical = SharedCatalog { roles, ..self.clone() };
        // A catalog is maps of strings and a role table that serializes as such: never fails.
        serde_json::to_vec(&canonical).unwrap_or_default()
    }

    /// A value read from etcd, checked.
    pub fn decode(bytes: &[u8]) -> Result<SharedCatalog> {
        let catalog: SharedCatalog =
            serde_json::from_slice(bytes).context("the shared catalog in etcd is not readable")?;
        if catalog.format_version != SHARED_CATALOG_FORMAT_VERSION {
            bail!(
                "the shared catalog in etcd has format {}; this graphd reads format {}",
                catalog.format_version,
                SHARED_CATALOG_FORMAT_VERSION
            );
        }
        catalog.check()?;
        Ok(catalog)
    }

    /// The checks a decoded catalog passes.
    fn check(&self) -> Result<()> {
        self.roles.check_invariants().context("the shared catalog's role table is corrupt")?;
        if self.spaces.len() > SPACES_MAX as usize {
            bail!("the shared catalog holds more than {SPACES_MAX} spaces");
        }
        for space in &self.spaces {
            if space.is_empty() || space.len() > SPACE_NAME_BYTES_MAX as usize {
                bail!("the shared catalog holds an invalid space name {space:?}");
            }
        }
        if self.hashes.len() > USERS_MAX as usize {
            bail!("the shared catalog holds more than {USERS_MAX} password hashes");
        }
        for (user, stored) in &self.hashes {
            if !self.roles.contains_user(user) {
                bail!("the shared catalog holds a password for {user:?}, who is no user");
            }
            if PasswordHash::new(stored).is_err() {
                bail!("the shared catalog's hash of {user:?} is not a PHC string");
            }
        }
        Ok(())
    }

    /// Whether `other` holds the same users, roles, spaces and hashes (versions aside).
    pub fn same_contents(&self, other: &SharedCatalog) -> bool {
        self.encode() == other.encode()
    }
}

#[cfg(test)]
mod tests {
    use graphsession_permission::{Caller, Policy};

    use super::*;
    use crate::passwords::hash;

    const ON: Policy = Policy { authorization_enabled: true };

    fn catalog() -> SharedCatalog {
        let mut roles = RoleTable::new();
        let root = Caller::resolve(&roles, "root", None);
        roles.create_user(&root, ON, "alice").unwrap();
        let hashes = BTreeMap::from([
            ("root".to_owned(), hash(b"nebula").unwrap()),
            ("alice".to_owned(), hash(b"secret").unwrap()),
        ]);
        SharedCatalog::new(roles, BTreeSet::from(["nba".to_owned()]), hashes)
    }

    #[test]
    fn round_trips() {
        let catalog = catalog();
        let decoded = SharedCatalog::decode(&catalog.encode()).unwrap();
        assert_eq!(decoded, catalog);
        assert!(decoded.same_contents(&catalog));
    }

    #[test]
    fn equal_contents_encode_to_equal_bytes_whatever_the_versions() {
        let first = catalog();
        let mut roles = first.roles.clone();
        roles.adopt(first.roles.clone()).unwrap();
        roles.adopt(first.roles.clone()).unwrap();
        let second = SharedCatalog::new(roles, first.spaces.clone(), first.hashes.clone());
        assert_eq!(first.encode(), second.encode());
        let mut other = second.clone();
        other.spaces.insert("other".to_owned());
        assert_ne!(first.encode(), other.encode());
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let mut newer = catalog();
        newer.format_version = SHARED_CATALOG_FORMAT_VERSION + 1;
        let error = SharedCatalog::decode(&newer.encode()).unwrap_err();
        assert!(format!("{error:#}").contains("format 2"), "{error:#}");

        let mut stray = catalog();
        stray.hashes.insert("mallory".to_owned(), hash(b"x").unwrap());
        let error = SharedCatalog::decode(&stray.encode()).unwrap_err();
        assert!(format!("{error:#}").contains("no user"), "{error:#}");

        let mut bad_hash = catalog();
        bad_hash.hashes.insert("alice".to_owned(), "plain".to_owned());
        assert!(SharedCatalog::decode(&bad_hash.encode()).is_err());

        let mut bad_space = catalog();
        bad_space.spaces.insert(String::new());
        assert!(SharedCatalog::decode(&bad_space.encode()).is_err());

        assert!(SharedCatalog::decode(b"{").is_err());
    }

    proptest::proptest! {
        /// Whatever etcd holds (another build's bytes, a damaged or forged value), decoding
        /// never panics and gives only a catalog that passes every check.
        #[test]
        fn decode_takes_only_checked_catalogs(
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..8),
            cut in proptest::option::of(proptest::num::usize::ANY),
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            static ENCODED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let mut bytes = ENCODED.get_or_init(|| catalog().encode()).clone();
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            for value in [bytes, raw] {
                if let Ok(decoded) = SharedCatalog::decode(&value) {
                    proptest::prop_assert!(decoded.check().is_ok());
                    proptest::prop_assert!(decoded.roles.check_invariants().is_ok());
                }
            }
        }
    }

    #[test]
    fn same_contents_ignores_the_version_only() {
        let first = catalog();
        let mut second = catalog();
        second.roles.adopt(first.roles.clone()).unwrap();
        second.hashes = first.hashes.clone();
        assert_ne!(first.roles.version(), second.roles.version());
        assert!(first.same_contents(&second));
        second.spaces.insert("other".to_owned());
        assert!(!first.same_contents(&second));
    }
}
