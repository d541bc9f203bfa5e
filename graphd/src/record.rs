//! `--record_events PATH`: this process's part of a run's record, one JSON object a line (the
//! simulator's [`Recorded`], judged by `graphsession_sim::recorded::judge` with the
//! simulator's own oracles): its start with the meta configuration, every log entry its
//! replica applied (with `--meta etcd://...`), the session and plan ids its nodes issued and
//! the sessions they began and stopped holding. Each line is written whole before the next
//! (a `kill -9` loses none it finished). A test feature: every line costs a write.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use graphsession_core::cluster::MetaConfig;
use graphsession_core::node::{Event, Output};
use graphsession_core::server::{Change, Event as RegistryEvent};
use graphsession_meta_etcd::Applied;
use graphsession_sim::recorded::{Entry, Recorded};

use crate::logging::log;

/// This process's record, shared by the actor and the task that forwards etcd's deliveries.
#[derive(Debug, Clone)]
pub struct Recorder {
    out: Arc<Mutex<LineWriter<File>>>,
    process: u32,
}

impl Recorder {
    /// A record written to `path` (created or truncated).
    pub fn create(path: &Path) -> Result<Recorder> {
        #[expect(clippy::disallowed_methods, reason = "graphd's edge: the record is a file")]
        let file = File::create(path)
            .with_context(|| format!("cannot create the record {}", path.display()))?;
        let out = Arc::new(Mutex::new(LineWriter::new(file)));
        Ok(Recorder { out, process: std::process::id() })
    }

    /// Writes one event (a failed write is logged; the run goes on, its judge will miss it).
    pub fn record(&self, event: &Recorded) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let written = serde_json::to_writer(&mut *out, event)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(error) = written {
            log!("the record was not written: {error}");
        }
    }

    /// This process started, its replica applying with `meta`.
    pub fn started(&self, at_ms: u64, meta: MetaConfig) {
        self.record(&Recorded::Started { process: self.process, at_ms, meta });
    }

    /// The replica applied an entry.
    pub fn applied(&self, applied: Applied) {
        let now_ms = applied.now_unix_ms;
        let entry = match applied.request {
            Some((node, request)) => Entry::Request { now_ms, node: node.0, request },
            None => Entry::Tick { now_ms },
        };
        let (process, revision, answer) = (self.process, applied.revision, applied.answer);
        self.record(&Recorded::Applied { process, revision, entry, answer });
    }

    /// What a node's output says about ids and the sessions it holds.
    pub fn output(&self, now: u64, node: u16, output: &Output) {
        let process = self.process;
        let event = match output {
            Output::Run { query, .. } => Recorded::PlanIssued {
                process,
                node,
                session: query.session.get(),
                plan: query.plan.get(),
                at_ms: now,
            },
            Output::Event(Event::SessionCreated { session, .. }) => {
                Recorded::SessionIssued { process, node, session: session.get(), at_ms: now }
            }
            Output::Event(Event::Registry(RegistryEvent::Session {
                session,
                at_unix_ms,
                change,
                ..
            })) => match change {
                Change::PickedUp { .. } | Change::Restored => Recorded::SessionHeld {
                    process,
                    node,
                    session: session.get(),
                    at_ms: *at_unix_ms,
                },
                Change::Ended { reason, .. } => Recorded::SessionEnded {
                    process,
                    node,
                    session: session.get(),
                    at_ms: *at_unix_ms,
                    reason: format!("{reason:?}"),
                },
                Change::Created { .. }
                | Change::SpaceChanged { .. }
                | Change::VariableSet { .. } => {
                    return;
                }
            },
            _ => return,
        };
        self.record(&event);
    }
}
