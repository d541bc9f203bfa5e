//! session-core's integration tests, one module per former test file, in one binary: a change to
//! the crate builds and links one test crate instead of one per file, which is what a
//! cargo-mutants run pays for every mutant (and CI once). The shared set-ups stay in
//! `tests/*_support/`, where the fuzz targets include them too. The loom models stay in
//! `tests/loom_server.rs`: they build only under `--cfg loom`.

#[path = "../client_support/mod.rs"]
mod client_support;
#[path = "../cluster_support/mod.rs"]
mod cluster_support;
#[path = "../node_support/mod.rs"]
mod node_support;
#[path = "../server_support/mod.rs"]
mod server_support;

mod catalog_turns;
mod client_boundaries;
mod client_config;
mod client_failure_modes;
mod client_pool;
mod client_properties;
mod client_seed_operations;
mod cluster_behaviour;
mod cluster_expiry;
mod cluster_id_clash;
mod cluster_meta;
mod cluster_meta_votes;
mod cluster_model;
mod cluster_node;
mod cluster_node_answers;
mod cluster_node_boundaries;
mod cluster_wired;
mod fuzz_regressions;
mod node_accessors;
mod node_authenticate;
mod node_connection_closed;
#[cfg(feature = "corruption")]
mod node_corruption;
mod node_limits;
mod node_pick_up;
mod node_pipelined;
mod node_properties;
mod node_query_timeouts;
mod node_restore;
mod node_show_queries;
mod node_sign_out;
mod node_statements_queries;
mod node_statements_sessions;
mod node_statements_users;
mod server_behaviour;
mod server_boundaries;
mod server_cluster_hooks;
mod server_model;
