//! `pushbroker worker`: queue mode's delivering side (see [`crate::queue::worker`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::queue::worker::{self, Options};

/// The default directory for the state of repositories that are not on this machine.
pub const DEFAULT_STATE_ROOT: &str = "/var/lib/pushbroker/worker";

/// Runs a worker with the site config in force until SIGTERM or SIGINT.
pub fn run(
    concurrency: usize,
    broker: Option<String>,
    state_root: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let site = crate::config::site::load().map_err(|errors| anyhow!("{errors}"))?;
    worker::run(
        site,
        Options {
            concurrency,
            broker,
            state_root: state_root.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_ROOT)),
        },
        out,
    )
}
