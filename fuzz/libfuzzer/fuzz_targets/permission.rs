//! libFuzzer entry point of the `permission` target.
//!
//! The body is `graphsession_fuzz::targets::permission::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::permission::run(data));
