//! The space catalog: the names of the spaces CREATE SPACE made, nothing more (graphd stores no
//! graph data). Persisted in the data directory's `spaces` file after every change, and bounded
//! by the permission crate's `SPACES_MAX`.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use graphsession_permission::{SPACE_NAME_BYTES_MAX, SPACES_MAX};

use crate::store::DataDir;

/// The file's name in the data directory.
pub const SPACES_FILE: &str = "spaces";
const KIND: &str = "spaces";

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SpacesFile {
    spaces: BTreeSet<String>,
}

/// The spaces that exist.
#[derive(Debug)]
pub struct Catalog {
    dir: DataDir,
    spaces: BTreeSet<String>,
}

/// Why a catalog change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// CREATE SPACE of a space that exists (NebulaGraph's meta: `E_EXISTED`).
    #[error("Existed!")]
    Exists,
    /// DROP SPACE of a space that does not exist.
    #[error("SpaceNotFound: SpaceName `{space}`")]
    NotFound {
        /// The space.
        space: String,
    },
    /// [`SPACES_MAX`] spaces exist.
    #[error("Too many spaces: at most {SPACES_MAX}")]
    Full,
}

impl Catalog {
    /// The catalog of `dir` (empty on first start), checked.
    pub fn load(dir: &DataDir) -> Result<Catalog> {
        let file: SpacesFile = dir.read_json(SPACES_FILE, KIND)?.unwrap_or_default();
        for space in &file.spaces {
            if space.is_empty() || space.len() > SPACE_NAME_BYTES_MAX as usize {
                bail!("{} is corrupt: space name {space:?}", dir.path(SPACES_FILE).display());
            }
        }
        if file.spaces.len() > SPACES_MAX as usize {
            bail!("{} is corrupt: more than {SPACES_MAX} spaces", dir.path(SPACES_FILE).display());
        }
        Ok(Catalog { dir: dir.clone(), spaces: file.spaces })
    }

    /// Whether `space` exists.
    pub fn contains(&self, space: &str) -> bool {
        self.spaces.contains(space)
    }

    /// The spaces, in name order.
    pub fn spaces(&self) -> impl Iterator<Item = &str> {
        self.spaces.iter().map(String::as_str)
    }

    /// CREATE SPACE: adds `space` and persists. The outer error is the file's.
    pub fn create(&mut self, space: &str) -> Result<Result<(), CatalogError>> {
        if self.spaces.contains(space) {
            return Ok(Err(CatalogError::Exists));
        }
        if self.spaces.len() >= SPACES_MAX as usize {
            return Ok(Err(CatalogError::Full));
        }
        self.spaces.insert(space.to_owned());
        self.persist()?;
        Ok(Ok(()))
    }

    /// DROP SPACE: removes `space` and persists.
    pub fn drop_space(&mut self, space: &str) -> Result<Result<(), CatalogError>> {
        if !self.spaces.remove(space) {
            return Ok(Err(CatalogError::NotFound { space: space.to_owned() }));
        }
        self.persist()?;
        Ok(Ok(()))
    }

    /// The spaces, as a set (the shared catalog's copy on etcd).
    pub fn space_set(&self) -> &BTreeSet<String> {
        &self.spaces
    }

    /// Takes `spaces` as the catalog (another graphd's change, learned from etcd) and persists.
    pub fn replace(&mut self, spaces: BTreeSet<String>) -> Result<()> {
        if spaces != self.spaces {
            self.spaces = spaces;
            self.persist()?;
        }
        Ok(())
    }

    fn persist(&self) -> Result<()> {
        let file = SpacesFile { spaces: self.spaces.clone() };
        self.dir.write_json(SPACES_FILE, KIND, &file)
    }
}
