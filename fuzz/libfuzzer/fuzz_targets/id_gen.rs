//! libFuzzer entry point of the `id_gen` target.
//!
//! The body is `graphsession_fuzz::targets::id_gen::run`.
#![no_main]

use graphsession_fuzz::targets::id_gen::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
