//! `cargo xtask load [ARGS]`: graphd's load generator, `graphd-load` (release build), with its
//! arguments passed through (`cargo xtask load --help`): `-c` connections, `--duration`,
//! `--nodes`, `--floor`, `--compare`, `--crash`, `--executes`, ... It prints a table of calls
//! per second and p50/p99 per RPC. CI runs a smoke of it (`load_smoke`) so it cannot rot.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{cargo, run};

/// The load generator with `args`.
pub(crate) fn load(root: &Path, args: &[String]) -> Result<()> {
    let mut command = load_command(root);
    command.args(args);
    run(command)
}

/// CI's smoke, a few seconds: three nodes, eight connections for 2 s with node 2 crashed and
/// restarted, then the floor under the same load and the ratios; it fails if a call failed, a
/// session was lost or any session is left at the end.
pub(crate) fn load_smoke(root: &Path) -> Result<()> {
    let mut command = load_command(root);
    command.args(["-c", "8", "--duration", "2s", "--nodes", "3", "--crash", "--compare"]);
    run(command)
}

fn load_command(root: &Path) -> Command {
    cargo(
        root,
        &[
            "run",
            "--quiet",
            "--release",
            "--locked",
            "--package",
            "graphsession-graphd",
            "--bin",
            "graphd-load",
            "--",
        ],
    )
}
