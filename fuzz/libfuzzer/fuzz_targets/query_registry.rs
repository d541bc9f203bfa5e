//! libFuzzer entry point of the `query_registry` target.
//!
//! The body is `graphsession_fuzz::targets::query_registry::run`.
#![no_main]

use graphsession_fuzz::targets::query_registry::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
