//! `cargo xtask bench`: runs every criterion benchmark, then writes `BENCHMARKS.md` from criterion's
//! results on disk: one table per bench group, ours beside each baseline and peer, with the ratio,
//! and one plot per table (`bench/plot.rs`, SVG files in `docs/benchmarks/` that the report links).
//!
//! Criterion (0.8, no html reports) leaves, per benchmark, `<criterion>/<dir>/new/benchmark.json`
//! (group id, function id, parameter, throughput) and `new/estimates.json` (mean, median and slope in
//! nanoseconds per iteration, with 95% intervals). `<criterion>` is `$CRITERION_HOME`, else
//! `$CARGO_TARGET_DIR/criterion`, else `target/criterion`, as criterion itself decides.
//!
//! Which result is ours and which is a baseline is not in those files: the bench ids say it by
//! convention (`*baseline*` is a baseline written in the bench, `*_crate` and `moka` are peer crates,
//! everything else is ours), and [`SECTIONS`] writes that mapping down id by id, so a new bench has to
//! be placed here before it reaches the report. Results not in the mapping (a renamed or deleted
//! bench's leftovers) are named at the end of the report and left out of the tables.
//!
//! A run also saves its metadata (command, machine, date, load, the memory line the server bench
//! prints) next to the results, so `--report-only` rewrites the same report without rerunning.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, describe};

mod plot;

/// Where the plots go, relative to the workspace root (BENCHMARKS.md links them from there).
const PLOTS_DIR: &str = "docs/benchmarks";

/// Where a result stands in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// Code of this workspace.
    Ours,
    /// The design an engine would write first, written in the bench for comparison.
    Baseline,
    /// Another crate doing the same job.
    Peer,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Ours => "ours",
            Role::Baseline => "baseline",
            Role::Peer => "peer",
        }
    }
}

/// One table of the report: the criterion groups it gathers and the role of every bench in them.
struct Section {
    title: &'static str,
    /// The bench target, as `cargo bench` names it.
    command: &'static str,
    /// Criterion group ids; a bench without a group has its own name as group id.
    groups: &'static [&'static str],
    /// What one iteration is, for the time column ("per id").
    unit: &'static str,
    /// The bench ratios are taken against, at the same parameter; `None` when the group is ours only.
    reference: Option<&'static str>,
    /// Every bench name (function id, or group id for a bench without one) and its role.
    members: &'static [(&'static str, Role)],
}

const ID_MEMBERS: &[(&str, Role)] = &[
    ("session_sealed", Role::Ours),
    ("session_unsealed", Role::Ours),
    ("session_js_safe_sealed", Role::Ours),
    ("plan_id", Role::Ours),
    ("naive_baseline", Role::Baseline),
    ("ulid_crate", Role::Peer),
    ("uuid_v7_crate", Role::Peer),
];

const REGISTRY_MEMBERS: &[(&str, Role)] = &[
    ("registry", Role::Ours),
    // The same registry with unsealed session ids (login + sign-out only): the seal's share.
    ("registry_unsealed_ids", Role::Ours),
    ("baseline_mutex_hashmap", Role::Baseline),
    // The machine's floor for find + touch: one random slot probe and one compare-and-swap.
    ("floor_one_random_miss", Role::Baseline),
    // The rungs from the floor to the registry (find + touch only; the bench's `floors` module).
    ("floor_sealed_ids", Role::Baseline),
    ("floor_shards_one_allocation", Role::Baseline),
    ("floor_shards", Role::Baseline),
    ("floor_blocks_one_allocation", Role::Baseline),
    ("floor_blocks", Role::Baseline),
    ("moka", Role::Peer),
];

const SERVER_BENCH: &str = "cargo bench -p graphsession-core --bench server_registry";

/// The report's tables, in order. Sealed session ids are the default, so they are the id reference.
const SECTIONS: &[Section] = &[
    Section {
        title: "Session and plan ids, one thread",
        command: "cargo bench -p graphsession-id-gen --bench ids",
        groups: &["id_one_thread"],
        unit: "per id",
        reference: Some("session_sealed"),
        members: ID_MEMBERS,
    },
    Section {
        title: "Session and plan ids, two threads sharing one generator",
        command: "cargo bench -p graphsession-id-gen --bench ids",
        groups: &["id_two_threads"],
        unit: "per id",
        reference: Some("session_sealed"),
        members: ID_MEMBERS,
    },
    Section {
        title: "Server registry: find + touch, one thread",
        command: SERVER_BENCH,
        groups: &["find_touch/1t"],
        unit: "per touch",
        reference: Some("registry"),
        members: REGISTRY_MEMBERS,
    },
    Section {
        title: "Server registry: find + touch, two threads",
        command: SERVER_BENCH,
        groups: &["find_touch/2t"],
        unit: "per touch",
        reference: Some("registry"),
        members: REGISTRY_MEMBERS,
    },
    Section {
        title: "Server registry: login + sign-out",
        command: SERVER_BENCH,
        groups: &["login_sign_out"],
        unit: "per login + sign-out",
        reference: Some("registry"),
        members: REGISTRY_MEMBERS,
    },
    Section {
        title: "Server registry: one reclaim round at 1M sessions",
        command: SERVER_BENCH,
        groups: &["reclaim_1m"],
        unit: "per round",
        reference: Some("registry"),
        members: REGISTRY_MEMBERS,
    },
    Section {
        title: "Per session held: snapshot capture (meta store, registry) and a full sync round's read",
        command: "cargo bench -p graphsession-core --bench held_sessions",
        groups: &["meta_snapshot", "registry_snapshot", "full_round_read"],
        unit: "per session held",
        reference: None,
        members: &[
            // What the thread that owns the state pays (graphd's actor).
            ("capture", Role::Ours),
            // Capture and snapshot at once: records built, sorted and checksummed.
            ("snapshot", Role::Ours),
            // What a full sync round reads of every session held.
            ("session_states", Role::Ours),
            // The whole reports a full round read before (three strings per session).
            ("sessions", Role::Baseline),
        ],
    },
    Section {
        title: "Client round trip through graphd on loopback (YIELD 1)",
        command: "cargo bench -p graphsession-client --bench client",
        groups: &["client_execute"],
        unit: "per statement",
        reference: Some("session_execute"),
        members: &[
            ("session_execute", Role::Ours),
            ("pool_execute", Role::Ours),
            ("raw_codec_baseline", Role::Baseline),
            ("nebula3_python_session", Role::Peer),
            ("nebula3_python_session_pool", Role::Peer),
        ],
    },
    Section {
        title: "Permission checks of a resolved caller",
        command: "cargo bench -p graphsession-permission --bench check",
        groups: &["check"],
        unit: "per check",
        reference: None,
        members: &[
            ("read data (GO), allowed", Role::Ours),
            ("write data (INSERT), allowed", Role::Ours),
            ("write space (CREATE SPACE), refused", Role::Ours),
            ("read space (USE another space: one lookup in own rights), allowed", Role::Ours),
            ("GOD, write schema", Role::Ours),
            ("kill query, own", Role::Ours),
            ("may see queries of, other", Role::Ours),
            ("is_stale (fix 4, per request)", Role::Ours),
        ],
    },
    Section {
        title: "Query registry",
        command: "cargo bench -p graphsession-query-plan --bench registry",
        groups: &[
            "register+finish (10k running, with deadline)",
            "checkpoint (QueryHandle::check)",
            "timeouts",
        ],
        unit: "per call",
        reference: None,
        members: &[
            ("register+finish (10k running, with deadline)", Role::Ours),
            ("checkpoint (QueryHandle::check)", Role::Ours),
            ("handle_timeout (100k running, 1% expire)", Role::Ours),
        ],
    },
];

/// The line the server bench prints for what criterion cannot measure.
const MEMORY_LINE: &str = "bytes per session at 1M";

/// Run metadata, saved beside the results for `--report-only`.
const RUN_FILE: &str = "xtask-bench-run.json";

/// One benchmark's result as criterion left it.
#[derive(Debug)]
struct Measurement {
    group: String,
    /// The function id, or the group id for a bench without a group.
    name: String,
    parameter: Option<String>,
    /// Elements (or bytes) one iteration processes, when the bench declared a throughput.
    elements: Option<f64>,
    /// Nanoseconds per iteration: criterion's slope when it has one, else the mean.
    estimate_ns: f64,
    lower_ns: f64,
    upper_ns: f64,
}

impl Measurement {
    /// Nanoseconds per element when a throughput is declared, per iteration otherwise.
    fn per_op_ns(&self) -> f64 {
        self.estimate_ns / self.elements.unwrap_or(1.0)
    }
}

/// `cargo xtask bench [--report-only] [CRITERION ARGS]`.
pub(crate) fn bench(root: &Path, args: &[String], report_only: bool) -> Result<()> {
    let criterion = criterion_dir(root);
    let run = if report_only {
        read_run(&criterion)
    } else {
        let run = run_benches(root, args, &criterion)?;
        std::fs::create_dir_all(&criterion)?;
        let text = serde_json::to_string_pretty(&run)?;
        std::fs::write(criterion.join(RUN_FILE), text).context("saving the run's metadata")?;
        run
    };
    let started = run.get("started_unix_s").and_then(Value::as_u64);
    let measurements = read_measurements(&criterion, if report_only { None } else { started })?;
    if measurements.is_empty() {
        bail!("no criterion results under {}", criterion.display());
    }
    let plots = root.join(PLOTS_DIR);
    std::fs::create_dir_all(&plots).with_context(|| format!("creating {}", plots.display()))?;
    let report = render(&run, &measurements, report_only, &plots)?;
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} from {} results", path.display(), measurements.len());
    Ok(())
}

fn criterion_dir(root: &Path) -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return root.join(home);
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    root.join(target).join("criterion")
}

/// Runs the benches, echoing their output and keeping the memory line; returns the run's metadata.
fn run_benches(root: &Path, args: &[String], criterion: &Path) -> Result<Value> {
    // Bench targets only: the libraries' libtest harnesses would refuse criterion's options.
    let mut command = cargo(root, &["bench", "--workspace", "--bench", "*"]);
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    let described = format!("cargo xtask bench {}", args.join(" ")).trim_end().to_owned();
    let load_before = first_line("/proc/loadavg");
    let started_unix_s = unix_now_s();
    eprintln!("$ {}", describe(&command));
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", describe(&command)))?;
    let mut memory = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            eprintln!("{line}");
            if line.starts_with(MEMORY_LINE) {
                memory = Some(line);
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{} failed with {status}", describe(&command));
    }
    eprintln!("results in {}", criterion.display());
    Ok(json!({
        "command": described,
        "started_unix_s": started_unix_s,
        "date": output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        "cpu": cpu_model(),
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "rustc": output_of("rustc", &["-V"]),
        "commit": output_of("git", &["-C", &root.to_string_lossy(), "describe", "--always", "--dirty"]),
        "load_before": load_before,
        "load_after": first_line("/proc/loadavg"),
        "memory": memory,
    }))
}

/// The saved metadata of the last run, or what can be said without it.
fn read_run(criterion: &Path) -> Value {
    std::fs::read_to_string(criterion.join(RUN_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| {
            json!({
                "command": "unknown (no saved run metadata: results regenerated with --report-only)",
                "date": output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
                "cpu": cpu_model(),
                "cores": std::thread::available_parallelism().map_or(0, usize::from),
                "rustc": output_of("rustc", &["-V"]),
            })
        })
}

#[expect(clippy::disallowed_types, reason = "xtask is an edge: it reads the wall clock")]
fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn modified_unix_s(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// What `program args` printed, trimmed, or "unknown" if it could not run or failed: for the
/// provenance lines of reports (date, rustc, commit).
pub(crate) fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Every `new/` result under `criterion`; with `since`, only those written at or after it.
fn read_measurements(criterion: &Path, since: Option<u64>) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    collect_new_dirs(criterion, &mut found)?;
    found.sort();
    let mut measurements = Vec::new();
    for dir in found {
        let estimates = dir.join("estimates.json");
        if since.is_some_and(|since| modified_unix_s(&estimates).is_none_or(|time| time < since)) {
            continue;
        }
        measurements.push(read_measurement(&dir)?);
    }
    Ok(measurements)
}

/// Directories named `new` holding a `benchmark.json`, below `dir`.
fn collect_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|name| name == "new") {
            if path.join("benchmark.json").is_file() {
                found.push(path);
            }
        } else {
            collect_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn read_measurement(dir: &Path) -> Result<Measurement> {
    let benchmark = read_json(&dir.join("benchmark.json"))?;
    let estimates = read_json(&dir.join("estimates.json"))?;
    let text = |key: &str| benchmark.get(key).and_then(Value::as_str).map(str::to_owned);
    let group = text("group_id").with_context(|| format!("no group id in {}", dir.display()))?;
    let name = text("function_id").unwrap_or_else(|| group.clone());
    let elements = benchmark.get("throughput").and_then(|throughput| {
        ["Elements", "Bytes", "BytesDecimal"]
            .iter()
            .find_map(|kind| throughput.get(kind).and_then(Value::as_f64))
    });
    // Criterion's headline figure: the slope of a linear sampling, else the mean.
    let estimate = estimates
        .get("slope")
        .filter(|slope| !slope.is_null())
        .or_else(|| estimates.get("mean"))
        .with_context(|| format!("no estimate in {}", dir.display()))?;
    let number = |pointer: &str| {
        estimate
            .pointer(pointer)
            .and_then(Value::as_f64)
            .with_context(|| format!("no {pointer} in {}", dir.display()))
    };
    Ok(Measurement {
        group,
        name,
        parameter: text("value_str"),
        elements,
        estimate_ns: number("/point_estimate")?,
        lower_ns: number("/confidence_interval/lower_bound")?,
        upper_ns: number("/confidence_interval/upper_bound")?,
    })
}

fn render(
    run: &Value,
    measurements: &[Measurement],
    report_only: bool,
    plots: &Path,
) -> Result<String> {
    let field = |key: &str| match run.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => "unknown".to_owned(),
    };
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str(
        "Written by `cargo xtask bench` from criterion's results; do not edit by hand. Each table \
         puts our code beside the design an engine would write first (baseline, written in the \
         bench) and other crates doing the same job (peer). **vs ours** is that row's time \
         divided by the reference row's (marked ★) at the same parameter: above 1 means ours is \
         faster. Times are criterion's estimate (the slope of its linear sampling, else the mean) \
         with its 95% confidence interval. Earlier dated figures, with the commands that produced \
         them, are in [docs/benchmarks-history.md](docs/benchmarks-history.md).\n\n",
    );
    let _ = writeln!(out, "- command: `{}`", field("command"));
    let _ = writeln!(out, "- date: {}", field("date"));
    let _ = writeln!(out, "- CPU: {}, {} logical cores", field("cpu"), field("cores"));
    let _ = writeln!(out, "- toolchain: {}", field("rustc"));
    let _ = writeln!(out, "- commit: {}", field("commit"));
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min, runnable/total, last pid) before: {}; after: {}",
        field("load_before"),
        field("load_after")
    );
    if report_only {
        out.push_str(
            "- regenerated from the results on disk with `cargo xtask bench --report-only`\n",
        );
    }
    let mut placed = vec![false; measurements.len()];
    for section in SECTIONS {
        render_section(&mut out, section, measurements, &mut placed, plots)?;
    }
    render_memory(&mut out, run);
    let unplaced: Vec<String> = measurements
        .iter()
        .zip(&placed)
        .filter(|(_, placed)| !**placed)
        .map(|(measurement, _)| format!("`{}/{}`", measurement.group, measurement.name))
        .collect();
    if !unplaced.is_empty() {
        eprintln!("not in xtask/src/bench.rs's mapping, left out: {}", unplaced.join(", "));
        out.push_str("\n## Results not in the mapping\n\n");
        let _ = writeln!(
            out,
            "Left out of the tables (stale results of a renamed bench, or a new bench to place in \
             `xtask/src/bench.rs`): {}.",
            unplaced.join(", ")
        );
    }
    Ok(out)
}

fn render_section(
    out: &mut String,
    section: &Section,
    measurements: &[Measurement],
    placed: &mut [bool],
    plots: &Path,
) -> Result<()> {
    let mut rows: Vec<(usize, Role, &Measurement)> = Vec::new();
    for (index, measurement) in measurements.iter().enumerate() {
        if !section.groups.contains(&measurement.group.as_str()) {
            continue;
        }
        let member = section.members.iter().position(|(name, _)| *name == measurement.name);
        if let Some(order) = member {
            placed[index] = true;
            rows.push((order, section.members[order].1, measurement));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    // Parameters in numeric order when they are numbers; then the section's own order of benches.
    rows.sort_by(|a, b| parameter_key(a.2).cmp(&parameter_key(b.2)).then(a.0.cmp(&b.0)));
    let references: BTreeMap<Option<&str>, f64> = rows
        .iter()
        .filter(|(_, _, measurement)| Some(measurement.name.as_str()) == section.reference)
        .map(|(_, _, measurement)| (measurement.parameter.as_deref(), measurement.per_op_ns()))
        .collect();
    let with_throughput = rows.iter().any(|(_, _, measurement)| measurement.elements.is_some());
    let _ = writeln!(out, "\n## {}\n\n`{}`\n", section.title, section.command);
    let mut header = format!("| bench | role | time {} | 95% interval |", section.unit);
    let mut rule = String::from("|---|---|---:|---|");
    if with_throughput {
        header.push_str(" throughput |");
        rule.push_str("---:|");
    }
    if section.reference.is_some() {
        header.push_str(" vs ours |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (_, role, measurement) in &rows {
        render_row(out, section, &references, with_throughput, *role, measurement);
    }
    let file = format!("{}.svg", slug(section.title));
    let points: Vec<plot::Point<'_>> = rows
        .iter()
        .map(|(_, role, measurement)| plot::Point {
            name: measurement.name.as_str(),
            role: *role,
            measurement,
        })
        .collect();
    plot::draw(&plots.join(&file), section.title, section.unit, &points)?;
    let _ = writeln!(out, "\n![{}]({PLOTS_DIR}/{file})", section.title);
    Ok(())
}

/// A file name for a section title: lower-case ASCII letters and digits, `-` between words.
fn slug(title: &str) -> String {
    let mut slug = String::new();
    for character in title.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

fn parameter_key(measurement: &Measurement) -> (u64, String) {
    let parameter = measurement.parameter.clone().unwrap_or_default();
    (parameter.parse().unwrap_or(u64::MAX), parameter)
}

fn render_row(
    out: &mut String,
    section: &Section,
    references: &BTreeMap<Option<&str>, f64>,
    with_throughput: bool,
    role: Role,
    measurement: &Measurement,
) {
    let is_reference = Some(measurement.name.as_str()) == section.reference;
    let mut name = format!("`{}`", measurement.name);
    if let Some(parameter) = &measurement.parameter {
        let _ = write!(name, " ({})", format_parameter(parameter));
    }
    if is_reference {
        name.push_str(" ★");
    }
    let per_element = measurement.elements.unwrap_or(1.0);
    let _ = write!(
        out,
        "| {name} | {} | {} | {} – {} |",
        role.name(),
        format_ns(measurement.per_op_ns()),
        format_ns(measurement.lower_ns / per_element),
        format_ns(measurement.upper_ns / per_element),
    );
    if with_throughput {
        let ops_per_s = 1e9 / measurement.per_op_ns();
        let _ = write!(out, " {} |", format_rate(ops_per_s));
    }
    if section.reference.is_some() {
        let ratio = references.get(&measurement.parameter.as_deref()).map_or_else(
            || "n/a".to_owned(),
            |reference| format_ratio(measurement.per_op_ns() / reference),
        );
        let _ = write!(out, " {ratio} |");
    }
    out.push('\n');
}

fn render_memory(out: &mut String, run: &Value) {
    let Some(line) = run.get("memory").and_then(Value::as_str) else { return };
    let _ = writeln!(
        out,
        "\n## Server registry: resident memory per session\n\n`{SERVER_BENCH}` (printed, not a \
         criterion measurement)\n\n| design | role | bytes per session at 1M |\n|---|---|---:|"
    );
    let figures = line.split_once(':').map_or("", |(_, figures)| figures);
    for figure in figures.split(',') {
        let Some((name, bytes)) = figure.trim().split_once(' ') else { continue };
        // `registry_after_...` is ours too, measured after the sessions did something.
        let member = name.split_once("_after_").map_or(name, |(member, _)| member);
        let role = REGISTRY_MEMBERS
            .iter()
            .find(|(known, _)| *known == member)
            .map_or("?", |(_, role)| role.name());
        let _ = writeln!(out, "| `{name}` | {role} | {bytes} |");
    }
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns >= 10.0 {
        format!("{ns:.1} ns")
    } else {
        format!("{ns:.2} ns")
    }
}

fn format_ratio(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{}×", format_parameter(&format!("{ratio:.0}")))
    } else if ratio >= 10.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.2}×")
    }
}

/// A numeric parameter with thousands separators (`1,000,000`); anything else as it is.
fn format_parameter(parameter: &str) -> String {
    if parameter.is_empty() || !parameter.bytes().all(|byte| byte.is_ascii_digit()) {
        return parameter.to_owned();
    }
    let mut out = String::new();
    for (index, digit) in parameter.chars().enumerate() {
        if index > 0 && (parameter.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn format_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.1} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}
