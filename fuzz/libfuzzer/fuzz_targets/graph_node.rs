//! libFuzzer entry point of the `graph_node` target.
//!
//! The body is `graphsession_fuzz::targets::graph_node::run`.
#![no_main]

use graphsession_fuzz::targets::graph_node::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
