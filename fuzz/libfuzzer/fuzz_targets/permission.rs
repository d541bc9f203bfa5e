//! libFuzzer entry point of the `permission` target.
//!
//! The body is `graphsession_fuzz::targets::permission::run`.
#![no_main]

use graphsession_fuzz::targets::permission::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
