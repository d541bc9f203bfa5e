//! libFuzzer entry point of the `meta_store` target.
//!
//! The body is `graphsession_fuzz::targets::meta_store::run`.
#![no_main]

use graphsession_fuzz::targets::meta_store::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
