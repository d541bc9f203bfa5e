//! The binary's `--expect-property`: a run that must fail passes only when it fails with one of
//! the expected properties, and fails when it passes or breaks another property.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(clippy::disallowed_methods, reason = "the test runs the simulator binary")]

/// Runs the simulator; its exit status and standard output.
fn sim(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_graphsession-sim"))
        .args(args)
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

const NAIVE: [&str; 6] = ["--world", "ids", "--generator", "naive", "--seeds", "3"];

#[test]
fn an_expected_property_found_exits_zero() {
    let (success, stdout) = sim(&[&NAIVE[..], &["--expect-property", "duplicate_id"]].concat());
    assert!(success, "{stdout}");
    assert!(stdout.contains("property: duplicate_id"), "{stdout}");
    assert!(stdout.contains("as expected"), "{stdout}");
}

#[test]
fn another_property_exits_non_zero() {
    let (success, stdout) = sim(&[&NAIVE[..], &["--expect-property", "leak,zombie"]].concat());
    assert!(!success, "{stdout}");
    assert!(stdout.contains("found property duplicate_id: NOT AS EXPECTED"), "{stdout}");
}

#[test]
fn a_run_that_passes_exits_non_zero_when_a_property_is_expected() {
    let args = ["--world", "ids", "--seeds", "1", "--expect-property", "duplicate_id"];
    let (success, stdout) = sim(&args);
    assert!(!success, "{stdout}");
    assert!(stdout.contains("found no violation"), "{stdout}");
}

/// A replay file of the cluster world: the legacy client's login after close.
#[test]
fn a_replayed_failure_is_judged_by_its_property() {
    let path =
        format!("{}/tests/replays/legacy-login-after-close.json", env!("CARGO_MANIFEST_DIR"));
    let (success, stdout) =
        sim(&["--replay", &path, "--expect-property", "leak,login_after_close"]);
    assert!(success, "{stdout}");
    let (success, stdout) = sim(&["--replay", &path, "--expect-property", "unclassified"]);
    assert!(!success, "{stdout}");
    let (success, _) = sim(&["--replay", &path]);
    assert!(!success, "without --expect-property a failure exits non-zero");
}
