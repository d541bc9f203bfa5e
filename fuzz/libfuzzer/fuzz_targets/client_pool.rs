//! libFuzzer entry point of the `client_pool` target.
//!
//! The body is `graphsession_fuzz::targets::client_pool::run`.
#![no_main]

use graphsession_fuzz::targets::client_pool::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
