//! The NebulaGraph role lattice and its permission rules (issue 3; not built yet).
