//! libFuzzer entry point of the `cluster` target.
//!
//! The body is `graphsession_fuzz::targets::cluster::run`.
#![no_main]

use graphsession_fuzz::targets::cluster::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
