//! The simulator binary's parts: running seeds on threads, and each world's report.

pub(crate) mod cluster;
pub(crate) mod ids;
pub(crate) mod parallel;
