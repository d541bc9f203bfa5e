//! Replay files: a failing run as its list of choices, which `--replay FILE` runs again exactly
//! and which can be committed as a regression test (`sim/tests/replays/`).

use serde::{Deserialize, Serialize};

/// The format tag every replay file carries.
pub const REPLAY_FORMAT: &str = "graphsession-sim replay 1";

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayFile {
    /// [`REPLAY_FORMAT`].
    pub format: String,
    /// The world: `cluster`.
    pub world: String,
    /// The client implementation: `ours` or `legacy`.
    pub client: String,
    /// The seed the run was first found with.
    pub seed: u64,
    /// The property it broke when written.
    pub violation: String,
    /// Steps of the fault phase the choices drive.
    pub safety_steps: u64,
    /// Every choice, in order.
    pub choices: Vec<u64>,
}

impl ReplayFile {
    /// Rewrites this file's text in the canonical layout (see [`to_text`](ReplayFile::to_text)).
    pub fn canonical(text: &str) -> Result<String, String> {
        ReplayFile::parse(text).map(|file| file.to_text())
    }

    /// Parses a replay file; a wrong format tag is an error.
    pub fn parse(text: &str) -> Result<ReplayFile, String> {
        let file: ReplayFile =
            serde_json::from_str(text).map_err(|error| format!("not a replay file: {error}"))?;
        if file.format != REPLAY_FORMAT {
            return Err(format!(
                "replay format {:?}; this simulator reads {REPLAY_FORMAT:?}",
                file.format
            ));
        }
        Ok(file)
    }

    /// The file's text: one field per line, the choices on one line.
    pub fn to_text(&self) -> String {
        let header = ReplayFile { choices: Vec::new(), ..self.clone() };
        let choices: Vec<String> = self.choices.iter().map(u64::to_string).collect();
        serde_json::to_string_pretty(&header)
            .unwrap_or_default()
            .replace("\"choices\": []", &format!("\"choices\": [{}]", choices.join(", ")))
            + "\n"
    }
}
