//! libFuzzer entry point of the `catalog_turns` target.
//!
//! The body is `graphsession_fuzz::targets::catalog_turns::run`.
#![no_main]

use graphsession_fuzz::targets::catalog_turns::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
