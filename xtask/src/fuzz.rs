//! `cargo xtask fuzz [TARGET] [--seconds N]`: libFuzzer through cargo-fuzz on one target or all
//! of them, one after the other, each for `N` seconds, growing `fuzz/corpus/<target>/` with the
//! new interesting inputs; then one line per target with its executions per second.
//!
//! The targets are the binaries of `fuzz/libfuzzer/` (a cargo-fuzz project outside the workspace);
//! their bodies live in the `graphsession-fuzz` library, whose `tests/corpus.rs` replays the same
//! corpus under stable `cargo test`. cargo-fuzz needs nightly flags, which `RUSTC_BOOTSTRAP=1`
//! allows on this stable toolchain; it is installed (`cargo install cargo-fuzz --locked`) when
//! missing. Builds use debug assertions, so overflow checks and `debug_assert!`s are fuzzed too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::{cargo, describe, run};

/// What to fuzz and for how long.
#[derive(Debug)]
pub(crate) struct Options {
    /// One target, or every target when `None`.
    pub(crate) target: Option<String>,
    /// libFuzzer's `-max_total_time` per target.
    pub(crate) seconds: u64,
}

/// One target's run, from libFuzzer's final statistics.
#[derive(Debug)]
struct Outcome {
    target: String,
    runs: Option<u64>,
    execs_per_second: Option<u64>,
    crashed: bool,
}

pub(crate) fn fuzz(root: &Path, options: &Options) -> Result<()> {
    let fuzz_dir = root.join("fuzz").join("libfuzzer");
    let all = targets(&fuzz_dir)?;
    let chosen = match &options.target {
        None => all,
        Some(target) if all.contains(target) => vec![target.clone()],
        Some(target) => bail!("no fuzz target {target}; the targets are {}", all.join(", ")),
    };
    install_cargo_fuzz(root)?;
    let mut outcomes = Vec::new();
    for target in &chosen {
        outcomes.push(fuzz_one(root, target, options.seconds)?);
    }
    eprintln!("\n{:<22} {:>8} {:>12} {:>10}  result", "target", "seconds", "runs", "exec/s");
    for outcome in &outcomes {
        let show = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |v| v.to_string());
        eprintln!(
            "{:<22} {:>8} {:>12} {:>10}  {}",
            outcome.target,
            options.seconds,
            show(outcome.runs),
            show(outcome.execs_per_second),
            if outcome.crashed { "CRASH (see fuzz/libfuzzer/artifacts/)" } else { "ok" }
        );
    }
    let crashed: Vec<&str> =
        outcomes.iter().filter(|o| o.crashed).map(|o| o.target.as_str()).collect();
    if !crashed.is_empty() {
        bail!("a property broke in {}", crashed.join(", "));
    }
    Ok(())
}

/// The binaries of the cargo-fuzz project, by name.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(target) = name.strip_suffix(".rs") {
            targets.push(target.to_owned());
        }
    }
    targets.sort();
    Ok(targets)
}

fn install_cargo_fuzz(root: &Path) -> Result<()> {
    let mut probe = cargo(root, &["fuzz", "--version"]);
    probe.stdout(Stdio::null()).stderr(Stdio::null());
    if probe.status().is_ok_and(|status| status.success()) {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing: installing it");
    run(cargo(root, &["install", "cargo-fuzz", "--locked"]))
}

/// Runs one target, echoing libFuzzer's output and keeping its final statistics.
fn fuzz_one(root: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let corpus = root.join("fuzz").join("corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let corpus = corpus.to_string_lossy().into_owned();
    let max_total_time = format!("-max_total_time={seconds}");
    let args = [
        "fuzz",
        "run",
        "--debug-assertions",
        "--fuzz-dir",
        "fuzz/libfuzzer",
        target,
        &corpus,
        "--",
        &max_total_time,
        "-print_final_stats=1",
        "-rss_limit_mb=2048",
    ];
    let mut command = cargo(root, &args);
    command.env("RUSTC_BOOTSTRAP", "1").stderr(Stdio::piped());
    eprintln!("$ {}", describe(&command));
    let mut child = command.spawn().with_context(|| format!("could not start {target}"))?;
    let mut outcome =
        Outcome { target: target.to_owned(), runs: None, execs_per_second: None, crashed: false };
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            eprintln!("{line}");
            read_stats(&line, &mut outcome);
        }
    }
    let status = child.wait()?;
    outcome.crashed = !status.success();
    Ok(outcome)
}

/// libFuzzer's `-print_final_stats=1` lines: `stat::number_of_executed_units: N` and
/// `stat::average_exec_per_sec: N`.
fn read_stats(line: &str, outcome: &mut Outcome) {
    let value = |prefix: &str| line.strip_prefix(prefix).and_then(|v| v.trim().parse().ok());
    if let Some(runs) = value("stat::number_of_executed_units:") {
        outcome.runs = Some(runs);
    }
    if let Some(rate) = value("stat::average_exec_per_sec:") {
        outcome.execs_per_second = Some(rate);
    }
}
