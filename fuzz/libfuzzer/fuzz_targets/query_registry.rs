//! libFuzzer entry point of the `query_registry` target; the body is `graphsession_fuzz::targets::query_registry`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::query_registry::run(data));
