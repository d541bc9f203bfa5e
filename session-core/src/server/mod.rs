//! The session registry of one graph node (issue 5; being built).
