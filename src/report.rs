//! What the pusher reads: every line the hook prints, worded in one place.
//!
//! Git shows a hook's stderr as `remote: …` lines. Each is short, names the service, and
//! never carries a stack trace or a secret.

use std::io::Write;

use crate::broker::Verdict;
use crate::deliver::Report;
use crate::event::RefChange;

/// Prefix of every line, so the pusher knows who speaks.
pub const PREFIX: &str = "pushbroker";

/// Writes one line; a closed stderr is not worth failing the hook over.
pub fn line(out: &mut dyn Write, text: &str) {
    let _ = writeln!(out, "{PREFIX}: {text}");
}

/// What became of a failed delivery.
pub enum Kept {
    /// Not failed: nothing to keep.
    NotNeeded,
    /// Written to the spool.
    Spooled,
    /// The spool could not take it (the error says why).
    Lost(String),
}

/// The line for one delivery.
pub fn service_line(report: &Report, kept: &Kept, refs: &[RefChange]) -> String {
    let mut who = format!("{} ({})", report.service, report.broker);
    if let Some(change) = report.ref_index.and_then(|index| refs.get(index)) {
        who.push_str(&format!(" {}", change.name));
    }
    let detail = &report.outcome.detail;
    let tries = match report.attempts {
        0 | 1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    match (report.outcome.verdict, kept) {
        (Verdict::Delivered, _) => format!("{who}: delivered ({detail})"),
        (Verdict::Skipped, _) => format!("{who}: skipped: {detail}"),
        (Verdict::Queued, _) => format!("{who}: queued ({detail})"),
        (_, Kept::Spooled) => {
            format!("{who}: failed{tries}, spooled for `pushbroker redeliver`: {detail}")
        }
        (_, Kept::Lost(error)) => {
            format!("{who}: failed{tries}: {detail}; NOT spooled ({error}): this delivery is lost")
        }
        (_, Kept::NotNeeded) => format!("{who}: failed{tries}: {detail}"),
    }
}
