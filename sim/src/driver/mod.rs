//! The simulator binary's parts: running seeds on threads, and each world's report.

pub(crate) mod catalog;
pub(crate) mod cluster;
pub(crate) mod ids;
pub(crate) mod parallel;

/// What a run found: the exit status, and what `--expect-property` compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every seed passed.
    Pass,
    /// The first failing seed broke a property: the violation's message.
    Violation(String),
    /// The run failed otherwise: nondeterminism, a coverage mark never hit, a file not written
    /// or read.
    Error,
}
