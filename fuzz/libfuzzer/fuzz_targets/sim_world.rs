//! libFuzzer entry point of the `sim_world` target.
//!
//! The body is `graphsession_fuzz::targets::sim_world::run`.
#![no_main]

use graphsession_fuzz::targets::sim_world::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
