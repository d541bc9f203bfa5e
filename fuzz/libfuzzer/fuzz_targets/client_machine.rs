//! libFuzzer entry point of the `client_machine` target.
//!
//! The body is `graphsession_fuzz::targets::client_machine::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::client_machine::run(data));
