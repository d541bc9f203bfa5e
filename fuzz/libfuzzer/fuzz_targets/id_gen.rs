//! libFuzzer entry point of the `id_gen` target; the body is `graphsession_fuzz::targets::id_gen`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::id_gen::run(data));
