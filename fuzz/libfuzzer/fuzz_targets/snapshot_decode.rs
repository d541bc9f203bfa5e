//! libFuzzer entry point of the `snapshot_decode` target.
//!
//! The body is `graphsession_fuzz::targets::snapshot_decode::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::snapshot_decode::run(data));
