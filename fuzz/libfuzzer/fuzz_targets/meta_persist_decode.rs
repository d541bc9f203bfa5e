//! libFuzzer entry point of the `meta_persist_decode` target.
//!
//! The body is `graphsession_fuzz::targets::meta_persist_decode::run`.
#![no_main]

use graphsession_fuzz::targets::meta_persist_decode::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
