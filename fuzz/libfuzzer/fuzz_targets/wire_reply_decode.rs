//! libFuzzer entry point of the `wire_reply_decode` target.
//!
//! The body is `graphsession_fuzz::targets::wire_reply_decode::run`.
#![no_main]

use graphsession_fuzz::targets::wire_reply_decode::run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
