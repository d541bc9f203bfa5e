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

use std::collections::BTreeMap;

use crate::role::Role;

/// What one user may do: GOD, or a role per space.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rights {
    god: bool,
    /// Never holds `Role::God`; empty when `god`.
    spaces: BTreeMap<Box<str>, Role>,
}

impl Rights {
    /// No rights at all: the bottom of the lattice.
    pub fn none() -> Rights {
        Rights::default()
    }

    /// GOD: the top of the lattice.
    pub fn god() -> Rights {
        Rights { god: true, spaces: BTreeMap::new() }
    }

    /// Rights holding `role` in each named space. A GOD role anywhere makes the whole value GOD, as
    /// NebulaGraph's GOD on the default space means everything everywhere. A space named twice keeps the
    /// greater role.
    pub fn from_roles<'a>(roles: impl IntoIterator<Item = (&'a str, Role)>) -> Rights {
        let mut rights = Rights::none();
        for (space, role) in roles {
            rights = rights.join(&Rights::single(space, role));
        }
        rights
    }

    fn single(space: &str, role: Role) -> Rights {
        if role == Role::God {
            return Rights::god();
        }
        let mut spaces = BTreeMap::new();
        spaces.insert(Box::from(space), role);
        Rights { god: false, spaces }
    }

    /// Whether these are GOD's rights.
    pub fn is_god(&self) -> bool {
        self.god
    }

    /// The role held in `space`: `Some(God)` for GOD, `None` for no role.
    pub fn role_in(&self, space: &str) -> Option<Role> {
        if self.god {
            return Some(Role::God);
        }
        self.spaces.get(space).copied()
    }

    /// The space roles, in space-name order; empty for GOD.
    pub fn roles(&self) -> impl Iterator<Item = (&str, Role)> {
        self.spaces.iter().map(|(space, role)| (&**space, *role))
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
                let spaces = self
                    .spaces
                    .iter()
                    .filter_map(|(space, role)| {
                        other.spaces.get(space).map(|o| (space.clone(), (*role).min(*o)))
                    })
                    .collect();
                Rights { god: false, spaces }
            }
        }
    }

    /// The least upper bound: in each space, the greater of the two roles; GOD if either is GOD.
    pub fn join(&self, other: &Rights) -> Rights {
        if self.god || other.god {
            return Rights::god();
        }
        let mut spaces = self.spaces.clone();
        for (space, role) in &other.spaces {
            let entry = spaces.entry(space.clone()).or_insert(*role);
            *entry = (*entry).max(*role);
        }
        Rights { god: false, spaces }
    }

    /// Sets the role in `space` (a GRANT); the caller guarantees `role` is not GOD and `self` is not GOD.
    pub(crate) fn set_role(&mut self, space: &str, role: Role) -> Option<Role> {
        debug_assert!(!self.god && role != Role::God);
        self.spaces.insert(Box::from(space), role)
    }

    /// Removes the role in `space` (a REVOKE or DROP SPACE), returning it.
    pub(crate) fn remove_role(&mut self, space: &str) -> Option<Role> {
        self.spaces.remove(space)
    }

    /// Whether the representation is canonical (see the module docs).
    pub(crate) fn is_canonical(&self) -> bool {
        (!self.god || self.spaces.is_empty()) && self.spaces.values().all(|r| *r != Role::God)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
