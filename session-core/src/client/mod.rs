//! The client-side session lifecycle (issue 6; being built).
