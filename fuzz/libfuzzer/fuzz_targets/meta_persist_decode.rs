//! libFuzzer entry point of the `meta_persist_decode` target.
//!
//! The body is `graphsession_fuzz::targets::meta_persist_decode::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::meta_persist_decode::run(data));
