//! libFuzzer entry point of the `meta_store` target.
//!
//! The body is `graphsession_fuzz::targets::meta_store::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::meta_store::run(data));
