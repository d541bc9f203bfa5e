//! Structure-aware fuzz targets for every machine and every byte format of the workspace.
//!
//! Each target is a module of [`targets`] with a `run(data: &[u8])` that decodes the bytes with
//! [`arbitrary::Unstructured`] into a bounded list of operations, applies them to the real machine
//! and to the same reference model the crate's property tests use (the model files are included
//! from the crates' `tests/` directories with `#[path]`, so there is one model, not two), and
//! checks `check_invariants()` after every operation. The decoding targets feed raw and mutated
//! encodings to every decoder a host calls: bad bytes must give a typed error, never a panic or a
//! half-restored state.
//!
//! `run` panics only when a property is broken; libFuzzer reports that panic as a crash. The same
//! bodies run under stable `cargo test` (`tests/corpus.rs`) over the checked-in corpus in
//! `fuzz/corpus/<target>/`, and as libFuzzer binaries from `fuzz/libfuzzer/` through
//! `cargo xtask fuzz`.

pub mod targets;

/// A target's entry point: any bytes in, a panic only when a property is broken.
pub type Target = fn(&[u8]);

/// Every target by name, in the order `cargo xtask fuzz` runs them. The name is the module, the
/// libFuzzer binary and the corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("id_gen", targets::id_gen::run),
    ("permission", targets::permission::run),
    ("query_registry", targets::query_registry::run),
    ("session_manager", targets::session_manager::run),
    ("client_machine", targets::client_machine::run),
    ("client_pool", targets::client_pool::run),
    ("cluster", targets::cluster::run),
    ("graph_node", targets::graph_node::run),
    ("meta_store", targets::meta_store::run),
    ("snapshot_decode", targets::snapshot_decode::run),
    ("meta_persist_decode", targets::meta_persist_decode::run),
    ("messages_decode", targets::messages_decode::run),
    ("wire_decode", targets::wire_decode::run),
    ("wire_reply_decode", targets::wire_reply_decode::run),
    ("sim_world", targets::sim_world::run),
    ("catalog_turns", targets::catalog_turns::run),
];
