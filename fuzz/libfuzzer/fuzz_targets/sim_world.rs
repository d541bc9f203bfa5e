//! libFuzzer entry point of the `sim_world` target; the body is `graphsession_fuzz::targets::sim_world`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::sim_world::run(data));
