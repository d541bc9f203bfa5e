//! What a load run measured: per RPC an HDR histogram of client-side latencies in
//! microseconds (3 significant digits), the counts of failovers, cut logins, lost sessions and
//! errors, and the tables `graphd-load` prints.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The RPCs a load session makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    /// `authenticate`.
    Authenticate,
    /// `execute` (`executeWithParameter` for python).
    Execute,
    /// `signout`, until the reply to the `verifyClientVersion` sent right behind it.
    SignOut,
}

impl Rpc {
    /// Every RPC, in a session's order.
    pub const ALL: [Rpc; 3] = [Rpc::Authenticate, Rpc::Execute, Rpc::SignOut];

    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Authenticate => "authenticate",
            Rpc::Execute => "execute",
            Rpc::SignOut => "signout",
        }
    }

    fn index(self) -> usize {
        match self {
            Rpc::Authenticate => 0,
            Rpc::Execute => 1,
            Rpc::SignOut => 2,
        }
    }
}

/// The largest latency a histogram holds exactly: a minute (longer ones saturate).
const LATENCY_US_MAX: u64 = 60_000_000;

/// What one worker (or, merged, the whole run) counted.
#[derive(Debug, Clone)]
pub struct Tally {
    latencies: [Histogram<u64>; 3],
    /// The latencies of the calls that failed over, from their first attempt to their reply.
    failed_over: Histogram<u64>,
    /// Sessions ended by their sign-out.
    pub sessions: u64,
    /// Calls re-sent on another connection after theirs was lost (an execute or a sign-out,
    /// with the same session id, as nebula3-python does).
    pub failovers: u64,
    /// Logins whose connection was lost before the reply: each may have left a session
    /// nobody knows, which only its idle timeout ends.
    pub logins_cut: u64,
    /// Executes answered -1002: a session the client held was gone.
    pub sessions_lost: u64,
    /// Any other failed call.
    pub errors: u64,
    /// The first failure's text, if any.
    pub first_error: Option<String>,
}

impl Default for Tally {
    fn default() -> Tally {
        let histogram = || {
            Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
                .expect("1 µs to a minute at 3 significant digits is a valid histogram")
        };
        Tally {
            latencies: [histogram(), histogram(), histogram()],
            failed_over: histogram(),
            sessions: 0,
            failovers: 0,
            logins_cut: 0,
            sessions_lost: 0,
            errors: 0,
            first_error: None,
        }
    }
}

impl Tally {
    /// One call of `rpc` that took `latency`.
    pub fn record(&mut self, rpc: Rpc, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latencies[rpc.index()].saturating_record(micros.max(1));
    }

    /// One call of `rpc` that failed over and took `latency` in all.
    pub fn record_failed_over(&mut self, rpc: Rpc, latency: Duration) {
        self.record(rpc, latency);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.failed_over.saturating_record(micros.max(1));
    }

    /// A failed call.
    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    /// Adds `other`'s counts and latencies.
    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.latencies.iter_mut().zip(&other.latencies) {
            // Same bounds on both sides: adding cannot fail.
            let _added = mine.add(theirs);
        }
        let _added = self.failed_over.add(&other.failed_over);
        self.sessions += other.sessions;
        self.failovers += other.failovers;
        self.logins_cut += other.logins_cut;
        self.sessions_lost += other.sessions_lost;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// The latencies of `rpc`.
    pub fn latencies(&self, rpc: Rpc) -> &Histogram<u64> {
        &self.latencies[rpc.index()]
    }
}

/// One row of the table: an RPC's count, rate and latency quantiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// The RPC.
    pub rpc: Rpc,
    /// Calls completed.
    pub calls: u64,
    /// Calls per second of the run.
    pub per_sec: f64,
    /// Mean latency, µs.
    pub mean_us: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Slowest, µs.
    pub max_us: u64,
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// What ran, for the table's title.
    pub title: String,
    /// From the first call to the last worker's end.
    pub elapsed: Duration,
    /// Everything counted.
    pub tally: Tally,
}

impl Report {
    /// One row per RPC.
    pub fn rows(&self) -> Vec<Row> {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        Rpc::ALL
            .iter()
            .map(|&rpc| {
                let histogram = self.tally.latencies(rpc);
                let calls = histogram.len();
                Row {
                    rpc,
                    calls,
                    per_sec: to_f64(calls) / seconds,
                    mean_us: histogram.mean(),
                    p50_us: histogram.value_at_quantile(0.50),
                    p99_us: histogram.value_at_quantile(0.99),
                    max_us: histogram.max(),
                }
            })
            .collect()
    }

    /// The table `graphd-load` prints.
    pub fn table(&self) -> String {
        let mut out = format!("{} ({:.1} s)\n", self.title, self.elapsed.as_secs_f64());
        let _ = writeln!(
            out,
            "{:<14}{:>10}{:>11}{:>10}{:>10}{:>10}{:>10}",
            "rpc", "calls", "calls/s", "mean µs", "p50 µs", "p99 µs", "max µs"
        );
        for row in self.rows() {
            let _ = writeln!(
                out,
                "{:<14}{:>10}{:>11.0}{:>10.0}{:>10}{:>10}{:>10}",
                row.rpc.name(),
                row.calls,
                row.per_sec,
                row.mean_us,
                row.p50_us,
                row.p99_us,
                row.max_us
            );
        }
        let tally = &self.tally;
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "sessions {} ({:.0}/s), failovers {}, logins cut {}, sessions lost {}, errors {}",
            tally.sessions,
            to_f64(tally.sessions) / seconds,
            tally.failovers,
            tally.logins_cut,
            tally.sessions_lost,
            tally.errors
        );
        if !tally.failed_over.is_empty() {
            let _ = writeln!(
                out,
                "calls that failed over (reconnect, re-send, pick-up): {} with p50 {} µs, max {} µs",
                tally.failed_over.len(),
                tally.failed_over.value_at_quantile(0.5),
                tally.failed_over.max()
            );
        }
        if let Some(error) = &tally.first_error {
            let _ = writeln!(out, "first error: {error}");
        }
        out
    }
}

/// graphd against the floor, per RPC: how many times the floor's rate graphd reaches, and how
/// many times the floor's latency graphd takes.
pub fn ratio_table(graphd: &Report, floor: &Report) -> String {
    let mut out = String::from("graphd / floor\n");
    let _ = writeln!(out, "{:<14}{:>11}{:>10}{:>10}{:>10}", "rpc", "calls/s", "mean", "p50", "p99");
    for (kernel, floor) in graphd.rows().iter().zip(floor.rows()) {
        let _ = writeln!(
            out,
            "{:<14}{:>10.2}x{:>9.2}x{:>9.2}x{:>9.2}x",
            kernel.rpc.name(),
            kernel.per_sec / floor.per_sec.max(1e-9),
            kernel.mean_us / floor.mean_us.max(1e-9),
            to_f64(kernel.p50_us) / to_f64(floor.p50_us.max(1)),
            to_f64(kernel.p99_us) / to_f64(floor.p99_us.max(1)),
        );
    }
    out
}

/// Over several (graphd, floor) pairs run one after the other, so that a machine whose other
/// load drifts weighs on both alike: per RPC the median ratio of calls per second, p50 and p99,
/// with the range of the calls-per-second ratio.
pub fn median_ratio_table(pairs: &[(Report, Report)]) -> String {
    let mut out = format!("graphd / floor, median of {} alternating pairs\n", pairs.len());
    let _ =
        writeln!(out, "{:<14}{:>11}{:>18}{:>10}{:>10}", "rpc", "calls/s", "(range)", "p50", "p99");
    for (index, rpc) in Rpc::ALL.iter().enumerate() {
        let ratios = |of: &dyn Fn(&Row) -> f64| {
            let mut ratios: Vec<f64> = pairs
                .iter()
                .map(|(graphd, floor)| {
                    of(&graphd.rows()[index]) / of(&floor.rows()[index]).max(1e-9)
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios
        };
        let rate = ratios(&|row| row.per_sec);
        let p50 = ratios(&|row| to_f64(row.p50_us));
        let p99 = ratios(&|row| to_f64(row.p99_us));
        let range = format!(
            "({:.2}-{:.2})",
            rate.first().copied().unwrap_or_default(),
            rate.last().copied().unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "{:<14}{:>10.2}x{:>18}{:>9.2}x{:>9.2}x",
            rpc.name(),
            median(&rate),
            range,
            median(&p50),
            median(&p99)
        );
    }
    out
}

/// The median of sorted values (the mean of the middle two for an even count; 0 for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

#[expect(clippy::cast_precision_loss, reason = "a count shown as a rate")]
fn to_f64(count: u64) -> f64 {
    count as f64
}
