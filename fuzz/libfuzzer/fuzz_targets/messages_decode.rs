//! libFuzzer entry point of the `messages_decode` target.
//!
//! The body is `graphsession_fuzz::targets::messages_decode::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::messages_decode::run(data));
