//! libFuzzer entry point of the `session_manager` target.
//!
//! The body is `graphsession_fuzz::targets::session_manager::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::session_manager::run(data));
