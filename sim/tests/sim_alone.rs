//! The simulator alone as a test: the binary runs the cluster world over a range of seeds and
//! must pass, exactly as `cargo run --release -p graphsession-sim -- --seeds N` does.
//! `cargo xtask mutants --sim` runs this test, and nothing else, against every mutant of its
//! sample, with `GRAPHSESSION_SIM_SEEDS` set to its seed count; a plain `cargo test` runs a
//! few seeds.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(clippy::disallowed_methods, reason = "the test runs the simulator binary")]

/// Seeds when `GRAPHSESSION_SIM_SEEDS` is not set.
const SEEDS_DEFAULT: u64 = 20;

#[test]
fn the_simulator_passes_its_seeds() {
    let seeds = std::env::var("GRAPHSESSION_SIM_SEEDS")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(SEEDS_DEFAULT);
    let failure_dir = std::env::temp_dir().join("graphsession-sim-alone");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_graphsession-sim"))
        .args(["--seeds", &seeds.to_string(), "--failure-dir"])
        .arg(&failure_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the simulator failed:\n{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
}
