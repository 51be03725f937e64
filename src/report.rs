//! What the pusher reads: every line the hook prints, worded in one place.
//!
//! Git shows a hook's stderr as `remote: …` lines. Each is short, names the service, and
//! never carries a stack trace or a secret.

use std::io::Write;

use crate::broker::Outcome;
use crate::deliver::Report;

/// Prefix of every line, so the pusher knows who speaks.
pub const PREFIX: &str = "pushbroker";

/// Writes one line; a closed stderr is not worth failing the hook over.
pub fn line(out: &mut dyn Write, text: &str) {
    let _ = writeln!(out, "{PREFIX}: {text}");
}

/// The line for one service's outcome.
pub fn service_line(report: &Report) -> String {
    let who = format!("{} ({})", report.service, report.broker);
    match &report.outcome {
        Outcome::Delivered(detail) => format!("{who}: delivered ({detail})"),
        Outcome::Retry(reason) | Outcome::Failed(reason) => format!("{who}: failed: {reason}"),
        Outcome::Skipped(reason) => format!("{who}: skipped: {reason}"),
    }
}

/// Whether an outcome counts as a failure for the exit status.
pub fn is_failure(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Retry(_) | Outcome::Failed(_))
}
