//! libFuzzer entry point of the `session_manager` target; the body is `graphsession_fuzz::targets::session_manager`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::session_manager::run(data));
