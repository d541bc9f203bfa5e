//! `cargo xtask mutants --sim`: a standing measure of the simulator's power. cargo-mutants runs a
//! fixed, named sample of mutants of session-core and query-plan twice: once tested by the
//! mutated crate's own unit and integration tests, once by the simulator alone (the test
//! `sim/tests/sim_alone.rs`, which runs `graphsession-sim --seeds 1000` on the cluster world).
//! Both scores are printed side by side, with the share of what the unit tests catch that the
//! simulator alone catches too.
//!
//! The sample (`xtask/mutants-sim-sample.txt`) is drawn once by a seeded shuffle of
//! `cargo mutants --list` over both crates, and kept: the seed, the date and the list's size are
//! in its header. A sampled name whose line moved since (an edit above it) is matched to the
//! same mutation in the same file at the nearest line, so the sample outlives small edits; a
//! mutation gone from its file is reported as stale.
//!
//! The sample runs in chunks (`--chunk`, 50 mutants by default), each under the unit tests and
//! then under the simulator alone, into `target/mutants/sim-sample/chunk-NN/{unit,sim}/`. A
//! chunk already judged for the same names is skipped, so an interrupted run resumes; delete
//! the directory to start over. `--score-only` prints the figures of what is on disk, over the
//! mutants both runs have an outcome for (a run cut short gives partial figures, and says over
//! how many mutants).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{cargo, describe};

/// The sample file, relative to the workspace root.
const SAMPLE_FILE: &str = "xtask/mutants-sim-sample.txt";

/// The crates the sample is drawn from.
const SAMPLED_CRATES: [&str; 2] = ["graphsession-core", "graphsession-query-plan"];

/// Mutants in a drawn sample.
const SAMPLE_SIZE: usize = 200;

/// Seeds of the cluster world the simulator alone runs against each mutant: about 4 s at the
/// opt-level the mutants are built with.
pub(crate) const SIM_SEEDS: u64 = 1_000;

/// How long the simulator alone may take on one mutant before the mutant counts as caught by a
/// hang: the unmutated run takes about 4 s, 15 times that on a loaded machine.
const SIM_TIMEOUT_S: u64 = 60;

/// The share of the unit tests' catches the simulator alone should catch too (issue 15).
const TARGET_PERCENT: f64 = 85.0;

/// What `cargo xtask mutants --sim` was asked for.
pub(crate) struct Options {
    /// Run only this half of each chunk; both by default.
    pub(crate) only: Option<Half>,
    /// Only the first this many mutants of the sample (the sample's order is its shuffle, so a
    /// prefix is itself a random sample).
    pub(crate) limit: Option<usize>,
    /// Mutants built and tested at once.
    pub(crate) jobs: u32,
    /// Mutants per cargo-mutants run: both runs finish a chunk before the next begins, so a
    /// run cut short leaves figures over the same mutants for both, and resumes where it was.
    pub(crate) chunk: usize,
    /// Only print the figures of the results on disk.
    pub(crate) score_only: bool,
    /// Draw a new sample with this seed instead of running.
    pub(crate) draw_sample_seed: Option<u64>,
}

/// Runs the sample under the unit tests and under the simulator alone, then prints both scores.
pub(crate) fn mutants_sim(root: &Path, options: &Options) -> Result<()> {
    if let Some(seed) = options.draw_sample_seed {
        super::ensure_installed(root)?;
        return draw_sample(root, seed);
    }
    let sample = read_sample(&root.join(SAMPLE_FILE))?;
    let sample: Vec<String> = match options.limit {
        Some(limit) => sample.into_iter().take(limit).collect(),
        None => sample,
    };
    let output = root.join("target").join("mutants").join("sim-sample");
    if !options.score_only {
        super::ensure_installed(root)?;
        let listed = list(root)?;
        let (current, stale) = resolve(&sample, &listed);
        for name in &stale {
            eprintln!("stale (no such mutation in its file any more): {name}");
        }
        std::fs::create_dir_all(&output)?;
        std::fs::write(output.join(RESOLVED), lines_text(&current))
            .context("saving the resolved sample")?;
        for (index, names) in current.chunks(options.chunk.max(1)).enumerate() {
            let chunk = output.join(format!("chunk-{index:02}"));
            for tests in [Tests::Unit, Tests::SimAlone] {
                if options.only.is_some_and(|only| only.tests() != tests) {
                    continue;
                }
                let dir = chunk.join(tests.dir_name());
                if judged_all(&dir, names) {
                    eprintln!("chunk {index}, {}: judged before, skipped", tests.dir_name());
                    continue;
                }
                run(root, names, &dir, options.jobs, tests)?;
                std::fs::write(dir.join(NAMES), lines_text(names))?;
            }
        }
    }
    report(&output, sample.len())
}

/// The sample as the current listing names it, in the output directory.
const RESOLVED: &str = "resolved.txt";

/// The names a chunk's run was asked for, beside its `mutants.out`.
const NAMES: &str = "names.txt";

fn lines_text(names: &[String]) -> String {
    names.iter().map(|name| format!("{name}\n")).collect()
}

/// Whether a chunk's run was asked for exactly `names` and judged every one: a run cut short,
/// or one over another sample, is run again.
fn judged_all(dir: &Path, names: &[String]) -> bool {
    let asked = std::fs::read_to_string(dir.join(NAMES)).unwrap_or_default();
    let outcomes = Outcomes::read(&dir.join("mutants.out"));
    asked == lines_text(names) && names.iter().all(|name| outcomes.has(name))
}

/// One half of the measure, as `--only` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Half {
    /// The unit tests' half.
    Unit,
    /// The simulator alone's half.
    Sim,
}

impl Half {
    fn tests(self) -> Tests {
        match self {
            Half::Unit => Tests::Unit,
            Half::Sim => Tests::SimAlone,
        }
    }
}

/// Which tests judge a mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tests {
    /// The mutated crate's own tests (`.cargo/mutants.toml`: nextest, this package only).
    Unit,
    /// `sim/tests/sim_alone.rs` alone: the simulator binary over [`SIM_SEEDS`] seeds.
    SimAlone,
}

impl Tests {
    fn dir_name(self) -> &'static str {
        match self {
            Tests::Unit => "unit",
            Tests::SimAlone => "sim",
        }
    }
}

fn run(root: &Path, names: &[String], output: &Path, jobs: u32, tests: Tests) -> Result<()> {
    std::fs::create_dir_all(output)?;
    let jobs = jobs.to_string();
    let output_arg = output.to_string_lossy();
    let mut command = cargo(root, &["mutants", "--jobs", &jobs, "--output", &output_arg]);
    for package in SAMPLED_CRATES {
        command.args(["--package", package]);
    }
    if tests == Tests::SimAlone {
        // cargo-mutants' baseline tests the mutated packages, which have no `sim_alone`: it is
        // skipped (the unit run's baseline builds the same tree, and `cargo test -p
        // graphsession-sim` passes it), so the timeout is set here instead of from a baseline.
        let timeout_s = SIM_TIMEOUT_S.to_string();
        command
            .args(["--test-tool", "cargo", "--test-package", "graphsession-sim"])
            .args(["--baseline", "skip", "--timeout", &timeout_s])
            .arg("--cargo-test-arg=--test=sim_alone")
            .env("GRAPHSESSION_SIM_SEEDS", SIM_SEEDS.to_string());
    }
    // cargo-mutants 27.1 lets every struct-field deletion of an examined file through `--re`,
    // so the files are named too; what else runs is left out of the figures.
    let files: BTreeSet<&str> = names.iter().filter_map(|name| Some(parts(name)?.0)).collect();
    for file in files {
        command.arg(format!("--file={file}"));
    }
    for name in names {
        command.arg(format!("--re=^{}$", regex_escape(name)));
    }
    // As `cargo xtask mutants` builds: opt-level 1, no debug info, a target directory per
    // scratch copy.
    command
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_PROFILE_DEV_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    let shown = describe(&command);
    let shown: String = shown.chars().take(400).collect();
    eprintln!("$ {shown} ... ({} mutants named by --re)", names.len());
    let status = command.status().context("could not start cargo mutants")?;
    // cargo-mutants exits 2 when mutants were missed and 3 when some timed out: both are results.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        bail!("cargo mutants ({tests:?}) failed with {status}");
    }
    Ok(())
}

/// Escapes the characters a regex would read as syntax.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for character in text.chars() {
        if "\\.+*?()|[]{}^$".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// `cargo mutants --list` over the sampled crates, in its order.
fn list(root: &Path) -> Result<Vec<String>> {
    let mut command = cargo(root, &["mutants", "--list"]);
    for package in SAMPLED_CRATES {
        command.args(["--package", package]);
    }
    let output =
        command.output().with_context(|| format!("could not start {}", describe(&command)))?;
    if !output.status.success() {
        bail!("{} failed with {}", describe(&command), output.status);
    }
    let text = String::from_utf8(output.stdout).context("cargo mutants --list is not UTF-8")?;
    Ok(text.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect())
}

/// A mutant's name split into its file, line and the mutation (`path:line:column: what`).
fn parts(name: &str) -> Option<(&str, u32, &str)> {
    let mut fields = name.splitn(4, ':');
    let path = fields.next()?;
    let line = fields.next()?.parse().ok()?;
    let _column = fields.next()?;
    Some((path, line, fields.next()?.trim_start()))
}

/// Each sampled name as the current listing names it: the same name, or else the same mutation
/// in the same file at the nearest line, or else (the function moved to another file of its
/// crate) the one listing of the same mutation in the same crate. Returns the current names and
/// the stale ones.
fn resolve(sample: &[String], listed: &[String]) -> (Vec<String>, Vec<String>) {
    let exact: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    let mut by_mutation: BTreeMap<(&str, &str), Vec<(u32, &str)>> = BTreeMap::new();
    let mut by_crate: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for name in listed {
        if let Some((path, line, what)) = parts(name) {
            by_mutation.entry((path, what)).or_default().push((line, name));
            by_crate.entry((crate_of(path), what)).or_default().push(name);
        }
    }
    let (mut current, mut stale) = (Vec::new(), Vec::new());
    let mut taken = BTreeSet::new();
    for name in sample {
        let free = |candidate: &&str| !taken.contains(candidate) && !exact_in(sample, candidate);
        let found = if exact.contains(name.as_str()) {
            Some(name.as_str())
        } else {
            parts(name).and_then(|(path, line, what)| {
                let in_file = by_mutation.get(&(path, what)).and_then(|candidates| {
                    candidates
                        .iter()
                        .filter(|(_, candidate)| free(candidate))
                        .min_by_key(|(candidate_line, _)| candidate_line.abs_diff(line))
                        .map(|(_, candidate)| *candidate)
                });
                in_file.or_else(|| match by_crate.get(&(crate_of(path), what))?.as_slice() {
                    [only] if free(only) => Some(*only),
                    _ => None,
                })
            })
        };
        match found {
            Some(found) if taken.insert(found) => current.push(found.to_owned()),
            _ => stale.push(name.clone()),
        }
    }
    (current, stale)
}

/// The crate directory a mutant's path starts with.
fn crate_of(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

fn exact_in(sample: &[String], name: &str) -> bool {
    sample.iter().any(|sampled| sampled == name)
}

/// The sample's names, in the file's order (comments and blank lines skipped).
fn read_sample(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let names: Vec<String> = text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        bail!("{} names no mutant", path.display());
    }
    Ok(names)
}

/// Draws [`SAMPLE_SIZE`] names from `cargo mutants --list` by a shuffle seeded with `seed` and
/// writes the sample file with its seed and date.
fn draw_sample(root: &Path, seed: u64) -> Result<()> {
    let mut listed = list(root)?;
    let total = listed.len();
    shuffle(&mut listed, seed);
    listed.truncate(SAMPLE_SIZE);
    let version = cargo(root, &["mutants", "--version"]).output()?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let mut text = format!(
        "# The fixed sample of `cargo xtask mutants --sim`: {} of the {total} mutants that\n\
         # `cargo mutants --list --package graphsession-core --package graphsession-query-plan`\n\
         # listed ({version}), drawn by a Fisher-Yates shuffle with SplitMix64 seeded {seed}, in\n\
         # the shuffle's order (so the first N are a random sample too).\n\
         # drawn: {}\n\
         # seed: {seed}\n\
         # Redraw (a new sample; the figures in README then start over):\n\
         #   cargo xtask mutants --sim --draw-sample {seed}\n",
        listed.len(),
        today()?,
    );
    for name in &listed {
        text.push_str(name);
        text.push('\n');
    }
    let path = root.join(SAMPLE_FILE);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} ({} of {total} mutants, seed {seed})", path.display(), listed.len());
    Ok(())
}

/// Fisher-Yates with SplitMix64: the same order for the same seed on every machine.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for index in (1..items.len()).rev() {
        let bound = u64::try_from(index + 1).unwrap_or(u64::MAX);
        let other = usize::try_from(next() % bound).unwrap_or(0);
        items.swap(index, other);
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the days since 1970 (Howard Hinnant's
/// `civil_from_days`).
#[expect(clippy::disallowed_types, reason = "xtask is an edge: it dates the sample it draws")]
fn today() -> Result<String> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let days = i64::try_from(seconds / 86_400).context("days since 1970")? + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

/// One run's outcomes, by mutant name.
#[derive(Debug, Default)]
struct Outcomes {
    caught: BTreeSet<String>,
    missed: BTreeSet<String>,
    unviable: BTreeSet<String>,
}

impl Outcomes {
    /// Reads `caught.txt`, `timeout.txt` (a hang the tests noticed counts as caught),
    /// `missed.txt` and `unviable.txt`; a run not started yet has none.
    fn read(mutants_out: &Path) -> Outcomes {
        let read = |name: &str| -> BTreeSet<String> {
            std::fs::read_to_string(mutants_out.join(name))
                .map(|text| text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut caught = read("caught.txt");
        caught.extend(read("timeout.txt"));
        Outcomes { caught, missed: read("missed.txt"), unviable: read("unviable.txt") }
    }

    fn add(&mut self, other: Outcomes) {
        self.caught.extend(other.caught);
        self.missed.extend(other.missed);
        self.unviable.extend(other.unviable);
    }

    fn has(&self, name: &str) -> bool {
        self.caught.contains(name) || self.missed.contains(name) || self.unviable.contains(name)
    }
}

/// The figures, over the mutants both runs have an outcome for.
fn report(output: &Path, sample_len: usize) -> Result<()> {
    let resolved = read_sample(&output.join(RESOLVED))
        .context("no resolved sample: run `cargo xtask mutants --sim` first")?;
    let (mut unit, mut sim) = (Outcomes::default(), Outcomes::default());
    let mut chunks: Vec<PathBuf> = std::fs::read_dir(output)?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("chunk-"))
        })
        .collect();
    chunks.sort();
    for chunk in &chunks {
        unit.add(Outcomes::read(&chunk.join(Tests::Unit.dir_name()).join("mutants.out")));
        sim.add(Outcomes::read(&chunk.join(Tests::SimAlone.dir_name()).join("mutants.out")));
    }
    let judged: Vec<&str> = resolved
        .iter()
        .map(String::as_str)
        .filter(|name| unit.has(name) && sim.has(name))
        .collect();
    let viable: Vec<&str> = judged
        .iter()
        .copied()
        .filter(|name| !unit.unviable.contains(*name) && !sim.unviable.contains(*name))
        .collect();
    let caught_by = |outcomes: &Outcomes| -> BTreeSet<&str> {
        viable.iter().copied().filter(|name| outcomes.caught.contains(*name)).collect()
    };
    let (unit_caught, sim_caught) = (caught_by(&unit), caught_by(&sim));
    let both_caught = unit_caught.intersection(&sim_caught).count();
    let partial = if judged.len() < sample_len { " (PARTIAL)" } else { "" };
    let viable_len = viable.len();
    eprintln!(
        "\nsample: {SAMPLE_FILE}, {sample_len} mutants; both runs judged {}{partial}, {viable_len} \
         of them viable",
        judged.len()
    );
    let score = |caught: usize| {
        format!(
            "caught {caught:>4} / viable {viable_len:>4} = {:>5.1}%",
            percent(caught, viable_len)
        )
    };
    eprintln!("unit tests:      {}", score(unit_caught.len()));
    eprintln!(
        "simulator alone: {}   (sim/tests/sim_alone.rs: graphsession-sim --seeds {SIM_SEEDS})",
        score(sim_caught.len())
    );
    eprintln!(
        "the simulator alone catches {both_caught} of the {} the unit tests catch: {:.1}% \
         (target {TARGET_PERCENT}%){partial}",
        unit_caught.len(),
        percent(both_caught, unit_caught.len())
    );
    for (label, first, second) in [
        ("caught by the simulator only", &sim_caught, &unit_caught),
        ("caught by the unit tests only", &unit_caught, &sim_caught),
    ] {
        let names: Vec<&&str> = first.difference(second).collect();
        eprintln!("{label}: {}", names.len());
        for name in names {
            eprintln!("  {name}");
        }
    }
    Ok(())
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 100.0;
    }
    // Counts of mutants are far below 2^52, so the conversion is exact.
    #[expect(clippy::cast_precision_loss, reason = "mutant counts are small")]
    let percent = 100.0 * part as f64 / whole as f64;
    percent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_mutation_is_found_at_the_nearest_line_and_a_gone_one_is_stale() {
        let listed: Vec<String> = [
            "a.rs:12:5: replace f -> u32 with 0",
            "a.rs:40:5: replace f -> u32 with 0",
            "a.rs:13:9: replace + with - in g",
            "b.rs:7:1: replace h with ()",
            "c/src/moved/x.rs:3:1: replace k -> bool with true",
            "c/src/new.rs:9:1: replace && with || in twice",
            "c/src/other.rs:9:1: replace && with || in twice",
        ]
        .map(str::to_owned)
        .to_vec();
        let sample: Vec<String> = [
            "b.rs:7:1: replace h with ()",
            "a.rs:10:5: replace f -> u32 with 0",
            "a.rs:13:9: replace * with + in g",
            "c/src/x.rs:1:1: replace k -> bool with true",
            "c/src/old.rs:1:1: replace && with || in twice",
        ]
        .map(str::to_owned)
        .to_vec();
        let (current, stale) = resolve(&sample, &listed);
        assert_eq!(
            current,
            [
                "b.rs:7:1: replace h with ()",
                "a.rs:12:5: replace f -> u32 with 0",
                "c/src/moved/x.rs:3:1: replace k -> bool with true"
            ]
        );
        // Gone from its file, and twice elsewhere in its crate: no way to tell which.
        assert_eq!(
            stale,
            ["a.rs:13:9: replace * with + in g", "c/src/old.rs:1:1: replace && with || in twice"]
        );
    }

    #[test]
    fn the_shuffle_is_fixed_by_its_seed() {
        let mut first: Vec<u32> = (0..50).collect();
        let mut second = first.clone();
        shuffle(&mut first, 15);
        shuffle(&mut second, 15);
        assert_eq!(first, second);
        assert_ne!(first, (0..50).collect::<Vec<u32>>());
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<u32>>());
    }

    #[test]
    fn names_are_escaped_for_cargo_mutants_regexes() {
        let name = "src/a.rs:1:2: replace || with && in <impl X for Y>::f -> Option<u32>";
        let escaped = regex_escape(name);
        assert!(escaped.starts_with("src/a\\.rs:1:2: replace \\|\\| with && in <impl X for Y>"));
        assert!(escaped.ends_with("::f -> Option<u32>"));
    }
}
