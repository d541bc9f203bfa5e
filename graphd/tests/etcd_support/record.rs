//! A real run's record (the simulator's `Recorded` events): each graphd writes its own file
//! (`--record_events`) into the run's directory, the test keeps what its clients were answered
//! and what it did to the processes, and [`Record::judge`] runs the simulator's oracles over all
//! of it (`graphsession_sim::recorded::judge`).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use graphsession_sim::recorded::{Entry, Recorded, Verdict, judge};

use super::etcd;

/// Now, Unix ms (the graphd processes on this machine read the same clock).
pub(crate) fn unix_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The record of one test's run.
pub(crate) struct Record {
    dir: PathBuf,
    files: u32,
    /// What the test itself recorded.
    events: Vec<Recorded>,
}

impl Record {
    /// An empty record in a fresh directory.
    pub(crate) fn new() -> Record {
        Record { dir: etcd::temp_dir("record"), files: 0, events: Vec::new() }
    }

    /// The `--record_events` flag of the next graphd.
    pub(crate) fn flag(&mut self) -> String {
        self.files += 1;
        format!(
            "--record_events={}",
            self.dir.join(format!("graphd-{}.jsonl", self.files)).display()
        )
    }

    /// Records one event of the test.
    pub(crate) fn push(&mut self, event: Recorded) {
        self.events.push(event);
    }

    /// Every event: each graphd's file (a last line still being written is left out), then
    /// the test's.
    fn events(&self) -> Vec<Recorded> {
        let mut events = Vec::new();
        for file in 1..=self.files {
            let path = self.dir.join(format!("graphd-{file}.jsonl"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let whole = text.rfind('\n').map_or("", |end| &text[..end]);
            for line in whole.lines() {
                let event = serde_json::from_str(line);
                events.push(
                    event.unwrap_or_else(|error| panic!("{}: {error}: {line}", path.display())),
                );
            }
        }
        events.extend(self.events.iter().cloned());
        events
    }

    /// The run's end (`live`: the sessions the test holds), then the simulator's oracles over
    /// every event; panics with the violation.
    pub(crate) fn judge(&mut self, live: Vec<i64>, kill_bound_ms: u64) -> Verdict {
        self.push(Recorded::End { live, at_ms: unix_ms() });
        let events = self.events();
        let verdict = match judge(&events, kill_bound_ms) {
            Ok(verdict) => verdict,
            Err(violation) => {
                panic!("the oracles over the recorded run ({} events): {violation}", events.len())
            }
        };
        caught_when_broken(&events, kill_bound_ms);
        verdict
    }
}

/// The record is rich enough for the oracles to fail: the same run with the test's kills
/// forgotten, with the nodes' ends of sessions forgotten, with the killed queries answered a
/// success, and with the log entry that created sessions missing, is each caught.
fn caught_when_broken(events: &[Recorded], kill_bound_ms: u64) {
    let without = |drop: &dyn Fn(&Recorded) -> bool| -> Result<Verdict, String> {
        let kept: Vec<Recorded> = events.iter().filter(|event| !drop(event)).cloned().collect();
        judge(&kept, kill_bound_ms)
    };
    let lost = without(&|event| matches!(event, Recorded::KilledByClient { .. }));
    assert!(lost.as_ref().is_err_and(|message| message.starts_with("[lost]")), "{lost:?}");
    let late = without(&|event| matches!(event, Recorded::SessionEnded { .. }));
    assert!(late.as_ref().is_err_and(|message| message.starts_with("kill oracle")), "{late:?}");
    let told: Vec<Recorded> = events
        .iter()
        .map(|event| match event {
            Recorded::QueryAnswered { session, plan, at_ms, .. } => {
                Recorded::QueryAnswered { session: *session, plan: *plan, code: 0, at_ms: *at_ms }
            }
            other => other.clone(),
        })
        .collect();
    let told = judge(&told, kill_bound_ms);
    let tag = "[killed_query_succeeded]";
    assert!(told.as_ref().is_err_and(|message| message.starts_with(tag)), "{told:?}");
    let creating = events.iter().find_map(|event| match event {
        Recorded::Applied { revision, entry: Entry::Request { request, .. }, .. }
            if !request.created.is_empty() =>
        {
            Some(*revision)
        }
        _ => None,
    });
    let creating = creating.expect("no entry created a session");
    let missing = without(
        &|event| matches!(event, Recorded::Applied { revision, .. } if *revision == creating),
    );
    assert!(missing.is_err(), "a log without revision {creating} passed: {missing:?}");
}

impl Drop for Record {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the run's record is kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
