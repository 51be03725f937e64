//! `pushbroker redeliver --dead [REPO]`: puts the repository's dead letters (queue mode:
//! deliveries that used up their attempts or failed for good on a worker) back on the
//! work stream, with their delivery ids.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};

use super::exit;
use crate::repo::RepoContext;
use crate::report;

/// Re-queues every dead letter of the repository; exit 1 when one could not be.
pub fn run(repo: Option<&Path>, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let site = crate::config::site::load().map_err(|errors| anyhow!("{errors}"))?;
    let queue = site
        .queue
        .as_ref()
        .context("redeliver --dead is for queue mode: the site config has no [queue]")?;
    let requeued = crate::queue::stored::requeue_dead(queue, &context.repository_path())?;
    if requeued.is_empty() {
        report::line(out, "no dead letters to re-queue");
    }
    let mut ok = true;
    for letter in &requeued {
        match &letter.result {
            Ok(sequence) => report::line(
                out,
                &format!(
                    "{}: {}: queued again (stream sequence {sequence})",
                    letter.delivery, letter.service
                ),
            ),
            Err(problem) => {
                ok = false;
                report::line(
                    out,
                    &format!(
                        "{}: {}: kept as a dead letter: {problem}",
                        letter.delivery, letter.service
                    ),
                );
            }
        }
    }
    Ok(exit(ok))
}
