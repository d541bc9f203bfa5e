//! libFuzzer entry point of the `client_machine` target.
//!
//! The body is `graphsession_fuzz::targets::client_machine::run`.
#![no_main]

use graphsession_fuzz::targets::client_machine::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
