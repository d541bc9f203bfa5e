//! libFuzzer entry point of the `permission` target; the body is `graphsession_fuzz::targets::permission`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::permission::run(data));
