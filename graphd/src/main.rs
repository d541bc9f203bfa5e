//! The `graphd` binary: flags in, a [`graphsession_graphd::Server`] started on a tokio runtime,
//! stopped cleanly (sessions, users and roles written) on SIGINT or SIGTERM. With
//! `--control_stdin`, fault tests crash and restart its nodes by lines on standard input.

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Parser;
use graphsession_graphd::Server;
use graphsession_graphd::flags::Flags;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> Result<()> {
    let flags = Flags::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(flags))
}

async fn serve(flags: Flags) -> Result<()> {
    let mut server = graphsession_graphd::start(flags.config()).await?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut control = flags.control_stdin().then(|| BufReader::new(tokio::io::stdin()).lines());
    let fenced = loop {
        tokio::select! {
            _ = terminate.recv() => break false,
            _ = interrupt.recv() => break false,
            () = server.fenced() => break true,
            line = next_command(&mut control) => match line {
                Some(line) => obey(&mut server, &line).await?,
                // Standard input closed: the test that drove us is gone (killed, perhaps);
                // stop as on SIGTERM rather than outlive it.
                None => break false,
            },
        }
    };
    server.shutdown().await?;
    if fenced {
        bail!("the meta store in etcd was lost (lease expired)");
    }
    Ok(())
}

/// The next line on standard input, or `None` at its end; pending forever without
/// `--control_stdin`.
async fn next_command(control: &mut Option<Lines<BufReader<Stdin>>>) -> Option<String> {
    match control {
        Some(lines) => lines.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// Runs one `crash N` / `restart N` command and acknowledges it on standard output; a command
/// that cannot run (a bad line, a node that is already down or up) is refused with an
/// `error: ...` line and changes nothing.
async fn obey(server: &mut Server, line: &str) -> Result<()> {
    let mut words = line.split_whitespace();
    let (verb, node) = (words.next(), words.next().and_then(|n| n.parse::<usize>().ok()));
    let answer = match (verb, node, words.next()) {
        (Some("crash"), Some(n @ 1..), None) => {
            server.crash_node(n - 1).await.map(|()| format!("crashed {n}"))
        }
        (Some("restart"), Some(n @ 1..), None) => {
            server.restart_node(n - 1).await.map(|()| format!("restarted {n}"))
        }
        _ => Err(anyhow::anyhow!("expected `crash N` or `restart N` (N from 1), got {line:?}")),
    };
    let answer = answer.unwrap_or_else(|error| format!("error: {error:#}"));
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{answer}").and_then(|()| stdout.flush()).context("cannot write to stdout")
}
