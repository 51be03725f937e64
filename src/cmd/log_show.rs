//! `pushbroker log --show ID`: one delivery in full, as a forge's "Recent deliveries"
//! shows it: every attempt with its outcome and final state, the request that was sent
//! (headers with credentials masked, the body) and the response (status, headers, the
//! body's first part), within the bounds of `deliver::exchange`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::broker::http::{Message, REQUEST_BODY_MAX, RESPONSE_BODY_MAX};
use crate::deliver::exchange::{Exchanges, Line};
use crate::deliver::log::DeliveryLog;
use crate::deliver::spool::{Spool, is_id, shown};
use crate::repo::RepoContext;

/// Prints delivery `id` of the repository of `context`. Exit 1 when the log has none.
pub fn run(context: &RepoContext, id: &str, out: &mut dyn Write) -> Result<ExitCode> {
    if !is_id(id) {
        bail!(
            "{:?} is not a delivery id (the DELIVERY column of `pushbroker log`)",
            shown(id)
        );
    }
    let state = context.state();
    let (all, _) = DeliveryLog::new(state.log()).recent(usize::MAX)?;
    let attempts: Vec<_> = all.into_iter().filter(|a| a.delivery == id).collect();
    let exchanges = Exchanges::beside(&state.log()).of(id)?;
    let spooled = Spool::new(state.spool())
        .entries()?
        .entries
        .into_iter()
        .any(|entry| entry.id == id);
    let Some(first) = attempts.first() else {
        writeln!(
            out,
            "pushbroker: no delivery {id} in {} (it keeps the newest attempts only)",
            state.log().display()
        )?;
        return Ok(ExitCode::FAILURE);
    };
    writeln!(out, "delivery {id}")?;
    let event = if first.test { "test" } else { "push" };
    let mut about = format!("service {} ({}), {event}", first.service, first.broker);
    if !first.refs.is_empty() {
        about.push_str(&format!(", ref {}", shown(&first.refs)));
    }
    if !first.commit.is_empty() {
        about.push_str(&format!(", commit {}", first.commit));
    }
    writeln!(out, "{about}")?;
    let last = attempts
        .last()
        .map_or_else(String::new, |a| a.shown_state());
    match spooled {
        true => writeln!(
            out,
            "state: {last}; in the spool: `pushbroker redeliver {id}` sends it again, `pushbroker redeliver --drop {id}` removes it"
        )?,
        false => writeln!(out, "state: {last}")?,
    }
    for attempt in &attempts {
        writeln!(out)?;
        let status = attempt
            .status
            .map_or_else(String::new, |status| format!(" [{status}]"));
        writeln!(
            out,
            "attempt {} at {}: {} after {}ms{status}: {}",
            attempt.attempt,
            attempt.time,
            attempt.shown_state(),
            attempt.duration_ms,
            attempt.detail
        )?;
        if let Some(output) = &attempt.output {
            print_block(out, "  | ", output)?;
        }
        let exchange: Option<&Line> = exchanges
            .iter()
            .find(|line| line.attempt == attempt.attempt && line.time == attempt.time);
        if let Some(line) = exchange {
            print_message(out, "  > ", &line.exchange.request, REQUEST_BODY_MAX)?;
            match &line.exchange.response {
                Some(response) => print_message(out, "  < ", response, RESPONSE_BODY_MAX)?,
                None => writeln!(out, "  < (no response)")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_message(out: &mut dyn Write, prefix: &str, message: &Message, bound: usize) -> Result<()> {
    writeln!(out, "{prefix}{}", printable(&message.line))?;
    for (name, value) in &message.headers {
        writeln!(out, "{prefix}{}: {}", printable(name), printable(value))?;
    }
    writeln!(out, "{}", prefix.trim_end())?;
    print_block(out, prefix, &message.body)?;
    if message.cut {
        writeln!(
            out,
            "{prefix}… (cut: only the first {} KiB are kept)",
            bound / 1024
        )?;
    }
    Ok(())
}

fn print_block(out: &mut dyn Write, prefix: &str, text: &str) -> Result<()> {
    for line in text.lines() {
        writeln!(out, "{prefix}{}", printable(line))?;
    }
    Ok(())
}

/// `text` with control characters escaped: a receiver's answer or a commit message
/// cannot drive the admin's terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|ch| match ch {
            '\t' => "\t".to_string(),
            ch if ch.is_control() => ch.escape_unicode().to_string(),
            ch => ch.to_string(),
        })
        .collect()
}
