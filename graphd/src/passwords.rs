//! The password store: each user's password as an Argon2id hash in PHC string form
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), kept in the data directory's `users` file.
//! Nothing here keeps a password in clear: `GraphNode` hands new passwords out
//! (`Output::SetPassword`), this store hashes them and forgets them, and a login's password is
//! only ever compared through [`verify`].
//!
//! Why Argon2id (the `argon2` crate of RustCrypto, with its `password-hash` traits): it won the
//! Password Hashing Competition, it is OWASP's first recommendation, it is memory-hard (GPU
//! guessing costs memory, not only time), and RustCrypto's crate is pure Rust and maintained.
//! The parameters are the crate's defaults, OWASP's minimum (19 MiB, two passes, one lane):
//! about 30 ms per hash on this project's machine. Salts are 16 bytes from the OS (`getrandom`).
//!
//! A fresh data directory holds NebulaGraph's default account, `root` with password `nebula`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result, anyhow};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::store::DataDir;

/// The file's name in the data directory.
pub const USERS_FILE: &str = "users";
const KIND: &str = "users";

/// NebulaGraph's default account.
pub const DEFAULT_USER: &str = "root";
/// NebulaGraph's default password of [`DEFAULT_USER`].
pub const DEFAULT_PASSWORD: &str = "nebula";

/// The users file: user name to PHC hash.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct UsersFile {
    hashes: BTreeMap<String, String>,
}

/// Users' password hashes, shared by the actor (which changes them) and the connections (which
/// check logins against them).
#[derive(Debug)]
pub struct Passwords {
    dir: DataDir,
    hashes: Mutex<BTreeMap<String, String>>,
}

impl Passwords {
    /// The store of `dir`, created with `root`/`nebula` on first start; every stored hash is
    /// checked to be a valid PHC string.
    pub fn load_or_create(dir: &DataDir) -> Result<Passwords> {
        let file = match dir.read_json::<UsersFile>(USERS_FILE, KIND)? {
            Some(file) => file,
            None => {
                let mut file = UsersFile::default();
                file.hashes.insert(DEFAULT_USER.to_owned(), hash(DEFAULT_PASSWORD.as_bytes())?);
                dir.write_json(USERS_FILE, KIND, &file)?;
                file
            }
        };
        for (user, stored) in &file.hashes {
            PasswordHash::new(stored).map_err(|error| {
                anyhow!(
                    "{} is corrupt: the hash of {user:?} is not a PHC string ({error})",
                    dir.path(USERS_FILE).display()
                )
            })?;
        }
        Ok(Passwords { dir: dir.clone(), hashes: Mutex::new(file.hashes) })
    }

    /// The stored hash of `user`, if any.
    pub fn stored(&self, user: &str) -> Option<String> {
        self.lock().get(user).cloned()
    }

    /// Sets `user`'s password (hashed) and persists the store.
    pub fn set(&self, user: &str, password: &str) -> Result<()> {
        let hashed = hash(password.as_bytes())?;
        let mut hashes = self.lock();
        hashes.insert(user.to_owned(), hashed);
        self.persist(&hashes)
    }

    /// Forgets `user`'s password and persists the store.
    pub fn forget(&self, user: &str) -> Result<()> {
        let mut hashes = self.lock();
        if hashes.remove(user).is_some() {
            self.persist(&hashes)?;
        }
        Ok(())
    }

    /// Every user's hash (the shared catalog's copy on etcd).
    pub fn all(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    /// Takes `hashes` as the store (another graphd's change, learned from etcd; checked as PHC
    /// strings by the shared catalog) and persists.
    pub fn replace(&self, hashes: BTreeMap<String, String>) -> Result<()> {
        let mut stored = self.lock();
        if *stored != hashes {
            *stored = hashes;
            self.persist(&stored)?;
        }
        Ok(())
    }

    fn persist(&self, hashes: &BTreeMap<String, String>) -> Result<()> {
        let file = UsersFile { hashes: hashes.clone() };
        self.dir.write_json(USERS_FILE, KIND, &file).context("the users file was not written")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // A panic while holding the lock cannot leave the map half-changed (one insert or
        // remove), so carrying on is safe.
        self.hashes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A new Argon2id hash of `password` with a fresh salt.
pub fn hash(password: &[u8]) -> Result<String> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|error| anyhow!("the OS gave no randomness: {error}"))?;
    let hashed = Argon2::default()
        .hash_password_with_salt(password, &salt)
        .map_err(|error| anyhow!("hashing failed: {error}"))?;
    Ok(hashed.to_string())
}

/// Whether `password` matches the PHC hash `stored` (slow on purpose: run it off the event
/// loop).
pub fn verify(stored: &str, password: &[u8]) -> bool {
    Argon2::default().verify_password(password, stored).is_ok()
}
