//! The `graphd` binary: flags in, a [`graphsession_graphd::Server`] started on a tokio runtime,
//! stopped cleanly (sessions, users and roles written) on SIGINT or SIGTERM.

use anyhow::{Context, Result};
use clap::Parser;
use graphsession_graphd::flags::Flags;
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
    let server = graphsession_graphd::start(flags.config()).await?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let fenced = tokio::select! {
        _ = terminate.recv() => false,
        _ = interrupt.recv() => false,
        () = server.fenced() => true,
    };
    server.shutdown().await?;
    if fenced {
        anyhow::bail!("the meta store in etcd was lost (lease expired)");
    }
    Ok(())
}
