//! `cargo xtask mutants`: cargo-mutants over the pure crates, each mutated crate tested by its own
//! tests, and the mutation score: caught / viable, where viable = caught + missed. A test run that
//! times out counts as caught (the mutant made the code hang, and the tests noticed), as
//! cargo-mutants' documentation says; a mutant that does not build is unviable and not counted.
//!
//! Configuration (the test tool, timeouts) lives in `.cargo/mutants.toml`, so a plain
//! `cargo mutants -p <crate>` behaves the same. The tests run at opt-level 1 without debug info:
//! the property tests run about four times faster than at opt-level 0, with overflow checks and debug
//! assertions still on, so the tests are the real ones and only the wait is shorter.
//!
//! Each crate's results go to `target/mutants/<crate>/mutants.out` (`missed.txt`, `caught.txt`,
//! one log per mutant). After adding tests, `cargo xtask mutants -p <crate> -- --iterate` retests
//! only the mutants not caught before, and the score still counts every mutant once.
//!
//! A sample (`-- --shard K/N`, with `--sharding round-robin` for one spread over every file) is
//! named in `sample.txt` beside the results: the commit and the arguments that drew it, printed
//! with the score. cargo-mutants drops the mutants caught before *before* it shards, so
//! `--iterate --shard K/N` would test another shard; here `--iterate` with `--shard` instead retests
//! the not-yet-caught mutants of the sample's own list, named one by one (`--re`, with their files). A run cut
//! short (interrupted) keeps as its sample the mutants it judged, and says so in `sample.txt`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{cargo, describe};

pub(crate) mod sim;

/// The pure crates, smallest mutant count first.
pub(crate) const PURE_CRATES: [&str; 4] = [
    "graphsession-query-plan",
    "graphsession-permission",
    "graphsession-id-gen",
    "graphsession-core",
];

/// What `cargo xtask mutants` was asked for.
pub(crate) struct Options {
    /// Crates to mutate; empty means every pure crate.
    pub(crate) packages: Vec<String>,
    /// Mutants built and tested at once.
    pub(crate) jobs: u32,
    /// The lowest overall score that passes, in percent.
    pub(crate) score_min_percent: f64,
    /// Only print the scores of the results on disk; run nothing.
    pub(crate) score_only: bool,
    /// Arguments for cargo-mutants, for example `--file 'src/seal.rs'` or `--in-diff changes.diff`.
    pub(crate) args: Vec<String>,
}

/// One crate's counts, from the lists cargo-mutants writes.
#[derive(Debug, Default, Clone, Copy)]
struct Score {
    caught: u64,
    missed: u64,
    timeout: u64,
    unviable: u64,
}

impl Score {
    /// Timeouts count as caught.
    fn detected(self) -> u64 {
        self.caught + self.timeout
    }

    fn viable(self) -> u64 {
        self.detected() + self.missed
    }

    fn percent(self) -> f64 {
        if self.viable() == 0 {
            return 100.0;
        }
        // Counts of mutants are far below 2^52, so the conversion is exact.
        #[expect(clippy::cast_precision_loss, reason = "mutant counts are small")]
        let percent = 100.0 * self.detected() as f64 / self.viable() as f64;
        percent
    }

    fn add(self, other: Score) -> Score {
        Score {
            caught: self.caught + other.caught,
            missed: self.missed + other.missed,
            timeout: self.timeout + other.timeout,
            unviable: self.unviable + other.unviable,
        }
    }

    fn line(self, name: &str) -> String {
        format!(
            "{name:<26} caught {:>4} (timeouts {:>2}) / viable {:>4} = {:>5.1}%   missed {:>3}, unviable {:>3}",
            self.detected(),
            self.timeout,
            self.viable(),
            self.percent(),
            self.missed,
            self.unviable,
        )
    }
}

/// Runs cargo-mutants crate by crate, then prints every crate's score and the overall one.
pub(crate) fn mutants(root: &Path, options: &Options) -> Result<()> {
    if !options.score_only {
        ensure_installed(root)?;
    }
    let packages: Vec<String> = if options.packages.is_empty() {
        PURE_CRATES.iter().map(|package| (*package).to_owned()).collect()
    } else {
        options.packages.clone()
    };
    let mut scores = Vec::new();
    for package in &packages {
        let output = root.join("target").join("mutants").join(package);
        if !options.score_only {
            run_crate(root, package, &output, options)?;
        }
        let score = read_score(&output.join("mutants.out"))?;
        eprintln!("{}", score.line(package));
        if let Ok(sample) = std::fs::read_to_string(output.join("mutants.out").join(SAMPLE)) {
            eprintln!("sample of {package}: {}", sample.trim().replace('\n', "; "));
        }
        scores.push((package.clone(), score));
    }
    eprintln!("\nmutation score (caught / viable; timeouts count as caught, unviable excluded):");
    let mut total = Score::default();
    for (package, score) in &scores {
        eprintln!("{}", score.line(package));
        total = total.add(*score);
    }
    eprintln!("{}", total.line("overall"));
    for package in &packages {
        let missed = root.join("target/mutants").join(package).join("mutants.out/missed.txt");
        eprintln!("missed mutants of {package}: {}", missed.display());
    }
    if total.percent() < options.score_min_percent {
        bail!("mutation score {:.1}% is below {}%", total.percent(), options.score_min_percent);
    }
    Ok(())
}

fn ensure_installed(root: &Path) -> Result<()> {
    let installed =
        cargo(root, &["mutants", "--version"]).output().is_ok_and(|output| output.status.success());
    if !installed {
        crate::run(cargo(root, &["install", "cargo-mutants", "--locked"]))?;
    }
    Ok(())
}

fn run_crate(root: &Path, package: &str, output: &Path, options: &Options) -> Result<()> {
    std::fs::create_dir_all(output)?;
    // `--iterate` skips the mutants caught or unviable before and lists both kinds together in
    // `previously_caught.txt`; the unviable ones are kept here so the score can tell them apart.
    let mutants_out = output.join("mutants.out");
    let iterate = options.args.iter().any(|arg| arg == "--iterate");
    let unviable_before = if iterate { unviable(&mutants_out) } else { BTreeSet::new() };
    // The mutants of the source as this run sees it. cargo-mutants moves the old output aside
    // when it starts, so the list is written after the run.
    let mut listed = list_mutants(root, package, options)?;
    let sample = if iterate {
        std::fs::read_to_string(mutants_out.join(SAMPLE)).ok()
    } else {
        Some(describe_sample(root, options))
    };
    let mut args = options.args.clone();
    if iterate && is_sharded(&args) {
        // The sample is what its first run judged (all of the shard, or the part a run cut
        // short reached), saved as `listed.txt`.
        if let Ok(saved) = std::fs::read(mutants_out.join(LISTED)) {
            listed = saved;
        }
        match sample_left(&mutants_out, &listed, &args) {
            Some(left) => args = left,
            None => return Ok(()),
        }
    }
    let jobs = options.jobs.to_string();
    let output_arg = output.to_string_lossy();
    let mut command =
        cargo(root, &["mutants", "--package", package, "--jobs", &jobs, "--output", &output_arg]);
    // Each scratch copy builds in its own target directory, as cargo-mutants intends: a shared one
    // set for this shell would serialise parallel jobs and mix mutated builds with normal ones.
    command
        .args(&args)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_PROFILE_DEV_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    eprintln!("$ {}", describe(&command));
    let status =
        command.status().with_context(|| format!("could not start {}", describe(&command)))?;
    // cargo-mutants exits 2 when mutants were missed and 3 when some timed out: both are results.
    let finished = matches!(status.code(), Some(0 | 2 | 3));
    if !finished {
        if !iterate {
            save_cut_short(&mutants_out, &listed, sample.as_deref())?;
        }
        bail!("{} failed with {status}", describe(&command));
    }
    std::fs::write(mutants_out.join(LISTED), listed).context("saving the list of mutants")?;
    if let Some(sample) = sample {
        std::fs::write(mutants_out.join(SAMPLE), sample).context("saving the sample's name")?;
    }
    let all_unviable: Vec<String> =
        unviable(&mutants_out).union(&unviable_before).cloned().collect();
    let mut text = all_unviable.join("\n");
    text.push('\n');
    std::fs::write(mutants_out.join(UNVIABLE_ALL), text).context("saving the unviable mutants")
}

/// The arguments that retest the sample's mutants not caught before, named one by one, instead
/// of `--shard` (cargo-mutants drops the caught mutants before it shards, so `--iterate --shard`
/// would test another shard); `None` when every one is caught.
fn sample_left(mutants_out: &Path, listed: &[u8], args: &[String]) -> Option<Vec<String>> {
    let caught = previously_caught(mutants_out);
    let listed_text = String::from_utf8_lossy(listed).into_owned();
    let left: Vec<&str> =
        listed_text.lines().filter(|name| !name.is_empty() && !caught.contains(*name)).collect();
    eprintln!(
        "{} of the sample's {} mutants not caught before",
        left.len(),
        listed_text.lines().count()
    );
    if left.is_empty() {
        return None;
    }
    let mut args = without_shard(args);
    // cargo-mutants 27 adds its "delete field" mutants without applying `--re`, so the files are
    // named too, which keeps those extra mutants to the files retested.
    let files: BTreeSet<&str> =
        left.iter().filter_map(|name| name.split_once(':').map(|(file, _)| file)).collect();
    for file in files {
        args.push("--file".to_owned());
        args.push(file.to_owned());
    }
    for name in left {
        args.push("--re".to_owned());
        args.push(format!("^{}$", regex_escape(name)));
    }
    Some(args)
}

/// A run cut short (interrupted): its sample is the part of the list it judged, so the score and
/// a later `--iterate` count just those, and `sample.txt` says how far it got.
fn save_cut_short(mutants_out: &Path, listed: &[u8], sample: Option<&str>) -> Result<()> {
    let judged = judged(mutants_out);
    let listed_text = String::from_utf8_lossy(listed).into_owned();
    let reached: Vec<&str> = listed_text.lines().filter(|name| judged.contains(*name)).collect();
    if reached.is_empty() {
        return Ok(());
    }
    let mut text = reached.join("\n");
    text.push('\n');
    std::fs::write(mutants_out.join(LISTED), text).context("saving the judged mutants")?;
    let sample = format!(
        "{}cut short after {} of the {} listed mutants\n",
        sample.unwrap_or_default(),
        reached.len(),
        listed_text.lines().count()
    );
    std::fs::write(mutants_out.join(SAMPLE), sample).context("saving the sample's name")
}

/// What names the mutants a run tests: the commit (`git describe --always --dirty`) and the
/// arguments for cargo-mutants, with the configuration file's.
fn describe_sample(root: &Path, options: &Options) -> String {
    let root = root.to_string_lossy();
    let commit = crate::bench::output_of(
        "git",
        &["-C", &root, "describe", "--always", "--dirty", "--abbrev=12"],
    );
    let args =
        if options.args.is_empty() { "(all mutants)".to_owned() } else { options.args.join(" ") };
    format!("commit {commit}\nargs {args}\n")
}

fn is_sharded(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--shard" || arg.starts_with("--shard="))
}

/// The arguments without `--shard K/N` and `--sharding METHOD` (either spelling).
fn without_shard(args: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
        } else if arg == "--shard" || arg == "--sharding" {
            skip_value = true;
        } else if !arg.starts_with("--shard=") && !arg.starts_with("--sharding=") {
            kept.push(arg.clone());
        }
    }
    kept
}

/// The mutants cargo-mutants' `--iterate` would skip: caught or unviable before.
fn previously_caught(mutants_out: &Path) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for name in ["caught.txt", "unviable.txt", "previously_caught.txt"] {
        all.extend(lines(&mutants_out.join(name)).unwrap_or_default());
    }
    all
}

/// Every mutant with an outcome in the last run.
fn judged(mutants_out: &Path) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for name in ["caught.txt", "missed.txt", "timeout.txt", "unviable.txt"] {
        all.extend(lines(&mutants_out.join(name)).unwrap_or_default());
    }
    all
}

/// `name` as a regular expression matching itself only.
fn regex_escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The commit and arguments that drew the mutants of the first run since the last full one.
const SAMPLE: &str = "sample.txt";

/// Every mutant found unviable in this crate's runs since the last full one.
const UNVIABLE_ALL: &str = "unviable-all.txt";

/// Every mutant of the source the last run tested, by name (`cargo mutants --list`).
const LISTED: &str = "listed.txt";

/// `cargo mutants --list` for `package` with the run's arguments, except `--iterate` (which
/// would leave out the mutants caught before).
fn list_mutants(root: &Path, package: &str, options: &Options) -> Result<Vec<u8>> {
    let mut command = cargo(root, &["mutants", "--package", package, "--list"]);
    command.args(options.args.iter().filter(|arg| *arg != "--iterate"));
    let output =
        command.output().with_context(|| format!("could not start {}", describe(&command)))?;
    if !output.status.success() {
        bail!("{} failed with {}", describe(&command), output.status);
    }
    Ok(output.stdout)
}

fn unviable(mutants_out: &Path) -> BTreeSet<String> {
    let mut all = lines(&mutants_out.join("unviable.txt")).unwrap_or_default();
    all.extend(lines(&mutants_out.join(UNVIABLE_ALL)).unwrap_or_default());
    all
}

/// Counts from the lists cargo-mutants writes. With `--iterate`, mutants caught or unviable in
/// earlier runs are not retested and are listed together in `previously_caught.txt`; taking out the
/// unviable ones kept by [`run_crate`], every mutant is counted once and in its own kind.
///
/// Only mutants of the source the last run saw count (its `listed.txt`, when there is one): a
/// name caught in an earlier run whose code has changed since no longer names a mutant.
fn read_score(mutants_out: &Path) -> Result<Score> {
    let listed = lines(&mutants_out.join(LISTED)).ok();
    let current = |set: BTreeSet<String>| -> BTreeSet<String> {
        match &listed {
            Some(listed) => set.intersection(listed).cloned().collect(),
            None => set,
        }
    };
    let unviable = current(unviable(mutants_out));
    let mut caught = lines(&mutants_out.join("caught.txt"))?;
    caught.extend(lines(&mutants_out.join("previously_caught.txt")).unwrap_or_default());
    let caught = current(caught);
    let count = |name: &str| -> Result<u64> { Ok(len(&current(lines(&mutants_out.join(name))?))) };
    Ok(Score {
        caught: len(&caught.difference(&unviable).collect()),
        missed: count("missed.txt")?,
        timeout: count("timeout.txt")?,
        unviable: len(&unviable),
    })
}

fn lines(path: &Path) -> Result<BTreeSet<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect())
}

fn len<T>(set: &BTreeSet<T>) -> u64 {
    u64::try_from(set.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn the_shard_and_its_method_are_taken_out_in_either_spelling() {
        let args = strings(&["--shard", "0/40", "--sharding", "round-robin", "--iterate"]);
        assert!(is_sharded(&args));
        assert_eq!(without_shard(&args), strings(&["--iterate"]));
        let args = strings(&["--shard=1/4", "--file", "a.rs", "--sharding=slice"]);
        assert!(is_sharded(&args));
        assert_eq!(without_shard(&args), strings(&["--file", "a.rs"]));
        assert!(!is_sharded(&strings(&["--iterate", "--sharding-note"])));
    }

    #[test]
    fn a_mutant_name_is_escaped_to_match_itself_only() {
        let name = "src/a.rs:3:9: replace | with ^ in <impl Ord for X>::cmp -> Ordering";
        assert_eq!(
            regex_escape(name),
            "src/a\\.rs:3:9: replace \\| with \\^ in <impl Ord for X>::cmp \\-> Ordering"
        );
        assert_eq!(regex_escape("f(x) [0] {y} $*+?"), "f\\(x\\) \\[0\\] \\{y\\} \\$\\*\\+\\?");
    }
}
