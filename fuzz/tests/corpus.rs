//! Replays every fuzz target's checked-in corpus (`fuzz/corpus/<target>/`) and a fixed number of
//! deterministic pseudo-random inputs through the target's body, so that stable `cargo test`
//! (and so `cargo xtask ci`) checks every input the fuzzer ever found interesting. A broken
//! property panics inside the target and fails the test named after it.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]
#![expect(clippy::disallowed_methods, reason = "the test reads the checked-in corpus files")]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use graphsession_fuzz::{TARGETS, Target};

/// Pseudo-random inputs per target, on top of its corpus; keeps the whole test within seconds in
/// a debug build.
const RANDOM_INPUTS: u64 = 200;
/// The longest pseudo-random input, in bytes.
const RANDOM_BYTES_MAX: u64 = 1_024;

/// SplitMix64: a fixed seed gives the same inputs on every run and every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = self.next() % (RANDOM_BYTES_MAX + 1);
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

fn target(name: &str) -> Target {
    TARGETS.iter().find(|(target, _)| *target == name).map(|(_, run)| *run).unwrap()
}

/// Every file of `fuzz/corpus/<name>/`, sorted by name; none is missing for a listed target.
fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seed input", dir.display());
    files.into_iter().map(|path| (path.clone(), std::fs::read(&path).unwrap())).collect()
}

/// Runs one input; a broken property fails the test with the input's name (the target's own
/// panic message is printed above it).
fn check(run: Target, bytes: &[u8], input: &str) {
    if catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err() {
        panic!("{input} breaks a property: {bytes:?}");
    }
}

/// The hand-made valid inputs a decoding target builds itself (a real snapshot's bytes, ...),
/// so they stay valid when the format changes; they are also checked in as seed files.
fn seeds(name: &str) -> Vec<Vec<u8>> {
    use graphsession_fuzz::targets::{
        messages_decode, meta_persist_decode, snapshot_decode, wire_decode, wire_reply_decode,
    };
    match name {
        "snapshot_decode" => snapshot_decode::seeds(),
        "meta_persist_decode" => meta_persist_decode::seeds(),
        "messages_decode" => messages_decode::seeds(),
        "wire_decode" => wire_decode::seeds(),
        "wire_reply_decode" => wire_reply_decode::seeds(),
        _ => Vec::new(),
    }
}

fn replay(name: &str) {
    let run = target(name);
    for (index, bytes) in seeds(name).into_iter().enumerate() {
        check(run, &bytes, &format!("{name}: built-in seed {index}"));
    }
    for (path, bytes) in corpus(name) {
        check(run, &bytes, &path.display().to_string());
    }
    let mut random = SplitMix64(0x6772_6170_6873_6573 ^ name.len() as u64);
    for case in 0..RANDOM_INPUTS {
        check(run, &random.bytes(), &format!("{name}: random input {case}"));
    }
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        /// Every target has its test here, and every test names a target.
        #[test]
        fn every_target_is_replayed() {
            let tested = [$(stringify!($name)),*];
            let targets: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
            assert_eq!(tested.as_slice(), targets.as_slice());
        }
    };
}

corpus_tests!(
    id_gen,
    permission,
    query_registry,
    session_manager,
    client_machine,
    client_pool,
    cluster,
    graph_node,
    meta_store,
    snapshot_decode,
    meta_persist_decode,
    messages_decode,
    wire_decode,
    wire_reply_decode,
    sim_world,
    catalog_turns,
);
