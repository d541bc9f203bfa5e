//! libFuzzer entry point of the `cluster` target; the body is `graphsession_fuzz::targets::cluster`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::cluster::run(data));
