//! The query lifecycle of one graph node (issue 4; not built yet).
