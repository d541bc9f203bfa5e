//! The rights of one user as a value, and the lattice they form.
//!
//! A user's rights are either GOD (everything everywhere) or, for each space, at most one non-GOD role.
//! Ordered pointwise over spaces (no role below GUEST) with GOD on top, rights form a lattice: the product
//! of one chain per space, with a top element added. [`Rights::le`] is "holds at most the rights of";
//! [`Rights::meet`] and [`Rights::join`] are the greatest lower and least upper bounds. Every check of this
//! crate is monotone in this order: more rights never allow less (the property tests prove it).
//!
//! The representation is canonical, so `==` is the lattice's equality: a GOD value holds no space roles and
//! a space map never holds GOD.

use crate::role::Role;

/// Up to this many space roles, [`Rights::role_in`] scans instead of searching the tree.
const LINEAR_LOOKUP_SPACES_MAX: usize = 16;

/// What one user may do: GOD, or a role per space.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rights {
    god: bool,
    /// Never holds `Role::God`; empty when `god`.
    spaces: SpaceRoles,
}

/// Space roles sorted by space name, one entry per space. A sorted `Vec` rather than a map: users hold roles
/// in few spaces, and a contiguous scan that compares one precomputed integer per entry (and the full name
/// only on a match) is the fastest lookup for the USE hot path; a tree pays a memcmp call per node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SpaceRoles(Vec<SpaceRole>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct SpaceRole {
    /// [`fingerprint`] of `name`: equal names have equal fingerprints.
    fingerprint: u64,
    name: Box<str>,
    role: Role,
}

/// The name's length (saturating at 255) and its first seven bytes in one word: most distinct space names
/// differ here, and a name of at most seven bytes is its fingerprint entirely.
#[inline]
fn fingerprint(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut word = u64::from(u8::try_from(bytes.len()).unwrap_or(u8::MAX)) << 56;
    // A fixed, unrollable loop: a variable-length copy would be a memcpy call on the hot path.
    for (index, &byte) in bytes.iter().take(FINGERPRINT_PREFIX_BYTES).enumerate() {
        word |= u64::from(byte) << (8 * index);
    }
    word
}

/// Bytes of a space name held in its fingerprint.
const FINGERPRINT_PREFIX_BYTES: usize = 7;

impl SpaceRoles {
    #[inline]
    fn get(&self, space: &str) -> Option<Role> {
        if self.0.len() <= LINEAR_LOOKUP_SPACES_MAX {
            let fingerprint = fingerprint(space);
            return self
                .0
                .iter()
                .find(|entry| {
                    entry.fingerprint == fingerprint
                        && (space.len() <= FINGERPRINT_PREFIX_BYTES || &*entry.name == space)
                })
                .map(|entry| entry.role);
        }
        self.position(space).ok().map(|index| self.0[index].role)
    }

    fn position(&self, space: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|entry| (*entry.name).cmp(space))
    }

    fn insert(&mut self, space: &str, role: Role) -> Option<Role> {
        match self.position(space) {
            Ok(index) => Some(std::mem::replace(&mut self.0[index].role, role)),
            Err(index) => {
                let entry =
                    SpaceRole { fingerprint: fingerprint(space), name: Box::from(space), role };
                self.0.insert(index, entry);
                None
            }
        }
    }

    fn remove(&mut self, space: &str) -> Option<Role> {
        let index = self.position(space).ok()?;
        Some(self.0.remove(index).role)
    }

    fn iter(&self) -> impl Iterator<Item = (&str, Role)> {
        self.0.iter().map(|entry| (&*entry.name, entry.role))
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_sorted_and_unique(&self) -> bool {
        self.0.windows(2).all(|pair| pair[0].name < pair[1].name)
            && self.0.iter().all(|entry| entry.fingerprint == fingerprint(&entry.name))
    }
}

impl Rights {
    /// No rights at all: the bottom of the lattice.
    pub fn none() -> Rights {
        Rights::default()
    }

    /// GOD: the top of the lattice.
    pub fn god() -> Rights {
        Rights { god: true, spaces: SpaceRoles::default() }
    }

    /// Rights holding `role` in each named space. A GOD role anywhere makes the whole value GOD, as
    /// NebulaGraph's GOD on the default space means everything everywhere. A space named twice keeps the
    /// greater role.
    pub fn from_roles<'a>(roles: impl IntoIterator<Item = (&'a str, Role)>) -> Rights {
        let mut rights = Rights::none();
        for (space, role) in roles {
            if role == Role::God {
                return Rights::god();
            }
            let greater = rights.spaces.get(space).map_or(role, |held| held.max(role));
            rights.spaces.insert(space, greater);
        }
        rights
    }

    /// Whether these are GOD's rights.
    pub fn is_god(&self) -> bool {
        self.god
    }

    /// The role held in `space`: `Some(God)` for GOD, `None` for no role.
    #[inline]
    pub fn role_in(&self, space: &str) -> Option<Role> {
        if self.god {
            return Some(Role::God);
        }
        self.spaces.get(space)
    }

    /// The space roles, in space-name order; empty for GOD.
    pub fn roles(&self) -> impl Iterator<Item = (&str, Role)> {
        self.spaces.iter()
    }

    /// How many space roles are held; 0 for GOD.
    pub fn role_count(&self) -> u32 {
        u32::try_from(self.spaces.len()).unwrap_or(u32::MAX)
    }

    /// "Holds at most the rights of `other`": in every space, `self`'s role (if any) is at most `other`'s.
    pub fn le(&self, other: &Rights) -> bool {
        if other.god {
            return true;
        }
        if self.god {
            return false;
        }
        self.spaces.iter().all(|(space, role)| other.spaces.get(space).is_some_and(|o| role <= o))
    }

    /// The greatest lower bound: in each space, the lesser of the two roles (no role if either has none).
    pub fn meet(&self, other: &Rights) -> Rights {
        match (self.god, other.god) {
            (true, _) => other.clone(),
            (false, true) => self.clone(),
            (false, false) => {
                // Both sides are sorted, so the filtered result is sorted too.
                let spaces = self
                    .spaces
                    .0
                    .iter()
                    .filter_map(|entry| {
                        let other_role = other.spaces.get(&entry.name)?;
                        Some(SpaceRole { role: entry.role.min(other_role), ..entry.clone() })
                    })
                    .collect();
                Rights { god: false, spaces: SpaceRoles(spaces) }
            }
        }
    }

    /// The least upper bound: in each space, the greater of the two roles; GOD if either is GOD.
    pub fn join(&self, other: &Rights) -> Rights {
        if self.god || other.god {
            return Rights::god();
        }
        let mut spaces = self.spaces.clone();
        for (space, role) in other.spaces.iter() {
            let greater = spaces.get(space).map_or(role, |held| held.max(role));
            spaces.insert(space, greater);
        }
        Rights { god: false, spaces }
    }

    /// Sets the role in `space` (a GRANT); the caller guarantees `role` is not GOD and `self` is not GOD.
    pub(crate) fn set_role(&mut self, space: &str, role: Role) -> Option<Role> {
        debug_assert!(!self.god && role != Role::God);
        self.spaces.insert(space, role)
    }

    /// Removes the role in `space` (a REVOKE or DROP SPACE), returning it.
    pub(crate) fn remove_role(&mut self, space: &str) -> Option<Role> {
        self.spaces.remove(space)
    }

    /// Whether the representation is canonical (see the module docs).
    pub(crate) fn is_canonical(&self) -> bool {
        (!self.god || self.spaces.len() == 0)
            && self.spaces.iter().all(|(_, role)| role != Role::God)
            && self.spaces.is_sorted_and_unique()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_tell_apart_names_that_share_a_fingerprint() {
        // Same first seven bytes and length; same prefix with lengths past 255 (the length saturates).
        let long_a = format!("graphs_{}", "a".repeat(300));
        let long_b = format!("graphs_{}", "b".repeat(400));
        assert_eq!(fingerprint(&long_a), fingerprint(&long_b));
        let rights = Rights::from_roles([
            ("graph_one", Role::Admin),
            ("graph_two", Role::Guest),
            (long_a.as_str(), Role::User),
            ("abc", Role::Dba),
        ]);
        assert_eq!(rights.role_in("graph_one"), Some(Role::Admin));
        assert_eq!(rights.role_in("graph_two"), Some(Role::Guest));
        assert_eq!(rights.role_in("graph_six"), None);
        assert_eq!(rights.role_in(&long_a), Some(Role::User));
        assert_eq!(rights.role_in(&long_b), None);
        assert_eq!(rights.role_in("abc"), Some(Role::Dba));
        assert_eq!(rights.role_in("abd"), None);
        assert_eq!(rights.role_in("ab"), None);
        assert_eq!(rights.role_in(""), None);
    }

    #[test]
    fn a_short_name_is_not_found_under_the_same_name_with_trailing_nul_bytes() {
        // The fingerprint's length byte is what tells these apart: their first seven bytes are equal.
        let rights = Rights::from_roles([("abc", Role::Dba)]);
        assert_eq!(rights.role_in("abc\0"), None);
        assert_eq!(rights.role_in("abc\0\0\0\0"), None);
        assert_eq!(Rights::from_roles([("abc\0", Role::User)]).role_in("abc"), None);
    }

    #[test]
    fn role_count_counts_space_roles_and_god_holds_none() {
        let rights =
            Rights::from_roles([("a", Role::Guest), ("b", Role::Admin), ("a", Role::User)]);
        assert_eq!(rights.role_count(), 2);
        assert_eq!(Rights::none().role_count(), 0);
        assert_eq!(Rights::god().role_count(), 0);
    }

    fn entry(name: &str, role: Role) -> SpaceRole {
        SpaceRole { fingerprint: fingerprint(name), name: Box::from(name), role }
    }

    #[test]
    fn each_non_canonical_representation_is_detected() {
        let canonical = Rights::from_roles([("a", Role::Guest), ("b", Role::Dba)]);
        assert!(canonical.is_canonical() && Rights::none().is_canonical());
        let god_with_spaces =
            Rights { god: true, spaces: SpaceRoles(vec![entry("a", Role::Guest)]) };
        let god_as_space_role =
            Rights { god: false, spaces: SpaceRoles(vec![entry("a", Role::God)]) };
        let unsorted = SpaceRoles(vec![entry("b", Role::Guest), entry("a", Role::Guest)]);
        let duplicate = SpaceRoles(vec![entry("a", Role::Guest), entry("a", Role::User)]);
        let mut stale_fingerprint = entry("a", Role::Guest);
        stale_fingerprint.fingerprint = fingerprint("b");
        let stale_fingerprint = SpaceRoles(vec![stale_fingerprint]);
        assert!(!god_with_spaces.is_canonical());
        assert!(!god_as_space_role.is_canonical());
        for spaces in [unsorted, duplicate, stale_fingerprint] {
            assert!(!(Rights { god: false, spaces }).is_canonical());
        }
    }

    #[test]
    fn god_anywhere_is_god_everywhere_and_canonical() {
        let rights = Rights::from_roles([("a", Role::Guest), ("b", Role::God)]);
        assert_eq!(rights, Rights::god());
        assert!(rights.is_canonical());
        assert_eq!(rights.role_in("anything"), Some(Role::God));
    }

    #[test]
    fn no_role_is_below_guest() {
        let guest = Rights::from_roles([("a", Role::Guest)]);
        assert!(Rights::none().le(&guest));
        assert!(!guest.le(&Rights::none()));
        assert_eq!(guest.meet(&Rights::from_roles([("b", Role::Admin)])), Rights::none());
    }
}
