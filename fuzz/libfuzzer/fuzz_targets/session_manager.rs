//! libFuzzer entry point of the `session_manager` target.
//!
//! The body is `graphsession_fuzz::targets::session_manager::run`.
#![no_main]

use graphsession_fuzz::targets::session_manager::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
