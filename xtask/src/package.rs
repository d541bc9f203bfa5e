//! `cargo xtask ci`'s packaging check: every crate meant for crates.io (every workspace member
//! without `publish = false`) packs with `cargo package` and without a single warning, so a
//! missing readme, licence file or metadata field is caught when it is introduced, not on release
//! day. `--no-verify`: the tests already built every crate; packaging needs no second build.
//! `--allow-dirty`: a person may check a change before committing it (CI's clone is clean).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, describe};

/// The members `cargo publish` would accept, from `cargo metadata`.
fn publishable(root: &Path) -> Result<Vec<String>> {
    let output = cargo(root, &["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let packages = metadata["packages"].as_array().context("cargo metadata has no packages")?;
    let mut names: Vec<String> = packages
        .iter()
        // `publish` is null when unrestricted and `[]` for `publish = false`.
        .filter(|package| package["publish"].is_null())
        .filter_map(|package| package["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// Packs every publishable crate; fails on any warning cargo prints.
pub(crate) fn package(root: &Path) -> Result<()> {
    let names = publishable(root)?;
    let mut command: Command =
        cargo(root, &["package", "--no-verify", "--allow-dirty", "--locked"]);
    for name in &names {
        command.args(["-p", name]);
    }
    eprintln!("$ {}", describe(&command));
    let output =
        command.output().with_context(|| format!("could not start {}", describe(&command)))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("cargo package failed:\n{stderr}");
    }
    let warnings: Vec<&str> = stderr.lines().filter(|line| line.starts_with("warning")).collect();
    if !warnings.is_empty() {
        bail!("cargo package warns (every publishable crate must pack cleanly):\n{stderr}");
    }
    eprintln!("packed {} crates cleanly: {}", names.len(), names.join(", "));
    Ok(())
}
