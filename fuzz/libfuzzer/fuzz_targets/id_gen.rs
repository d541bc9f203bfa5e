//! libFuzzer entry point of the `id_gen` target.
//!
//! The body is `graphsession_fuzz::targets::id_gen::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::id_gen::run(data));
