//! libFuzzer entry point of the `meta_store` target; the body is `graphsession_fuzz::targets::meta_store`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::meta_store::run(data));
