//! libFuzzer entry point of the `messages_decode` target; the body is `graphsession_fuzz::targets::messages_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| graphsession_fuzz::targets::messages_decode::run(data));
