//! libFuzzer entry point of the `cluster` target.
//!
//! The body is `graphsession_fuzz::targets::cluster::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::cluster::run(data));
