//! `pushbroker log [REPO]`: recent deliveries, what is waiting in the spool, and one
//! delivery in full (`--show ID`: every attempt, its request and its response).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::deliver::log::DeliveryLog;
use crate::deliver::spool::Spool;
use crate::repo::RepoContext;

/// What to show.
pub struct Request {
    /// How many attempts (newest last).
    pub count: usize,
    /// One JSON object per line instead of a table.
    pub json: bool,
    /// The spool instead of the log.
    pub failed: bool,
    /// One delivery in full instead of the table.
    pub show: Option<String>,
}

/// Prints the newest attempts as a table (or JSON lines), or the spool's entries.
pub fn run(repo: Option<&Path>, request: &Request, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let state = context.state();
    if request.failed {
        return spooled(&Spool::new(state.spool()), request.json, out);
    }
    if let Some(id) = &request.show {
        return super::log_show::run(&context, id, out);
    }
    let (mut attempts, invalid) = DeliveryLog::new(state.log()).recent(request.count)?;
    // Queue mode: the attempts workers made, wherever they ran, merged by time.
    let site = crate::config::site::load().ok();
    if let Some(queue) = site.as_ref().and_then(|site| site.queue.as_ref()) {
        match crate::queue::stored::worker_attempts(queue, &context.repository_path()) {
            Ok(remote) => {
                attempts.extend(remote);
                attempts.sort_by(|a, b| a.time.cmp(&b.time));
                let extra = attempts.len().saturating_sub(request.count);
                attempts.drain(..extra);
            }
            Err(error) => writeln!(
                out,
                "(the workers' attempts could not be read from the queue: {error:#})"
            )?,
        }
    }
    if request.json {
        for attempt in &attempts {
            writeln!(out, "{}", serde_json::to_string(attempt)?)?;
        }
    } else {
        writeln!(
            out,
            "{:<20}  {:<16} {:<8} {:<5} {:<9} {:>7} {:>8}  {:<16} {:<12}  {:<36}  DETAIL",
            "TIME",
            "SERVICE",
            "BROKER",
            "EVENT",
            "STATE",
            "ATTEMPT",
            "DURATION",
            "REF",
            "COMMIT",
            "DELIVERY"
        )?;
        for a in &attempts {
            let event = if a.test { "test" } else { "push" };
            let duration = format!("{}ms", a.duration_ms);
            let refs = crate::deliver::spool::shown(&a.refs);
            writeln!(
                out,
                "{:<20}  {:<16} {:<8} {:<5} {:<9} {:>7} {:>8}  {:<16} {:<12}  {:<36}  {}",
                a.time,
                a.service,
                a.broker,
                event,
                a.shown_state(),
                a.attempt,
                duration,
                refs,
                a.commit,
                a.delivery,
                a.detail
            )?;
        }
    }
    if invalid > 0 {
        writeln!(
            out,
            "({invalid} lines of the log are not valid JSON and were left out)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn spooled(spool: &Spool, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let listing = spool.entries()?;
    if !json {
        writeln!(
            out,
            "{:<36}  {:<20}  {:<16} LAST ERROR",
            "DELIVERY", "SPOOLED", "SERVICE"
        )?;
    }
    for entry in &listing.entries {
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"delivery": entry.id, "created": entry.created, "service": entry.service(), "last_error": entry.last_error()})
            )?;
        } else {
            writeln!(
                out,
                "{:<36}  {:<20}  {:<16} {}",
                entry.id,
                entry.created,
                entry.service(),
                entry.last_error()
            )?;
        }
    }
    for bad in &listing.bad {
        writeln!(out, "{bad} (`pushbroker redeliver` moves it to spool/bad/)")?;
    }
    Ok(ExitCode::SUCCESS)
}
