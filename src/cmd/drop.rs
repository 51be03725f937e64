//! `pushbroker redeliver --drop ID…` and `redeliver --drop --service NAME`: removes
//! spooled deliveries the admin gives up on (a service that was removed from the
//! config, a receiver that is gone for good), each with a `dropped` line in the log.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use super::exit;
use crate::broker::Outcome;
use crate::deliver::journal;
use crate::deliver::log::{Attempt, DeliveryLog, State};
use crate::deliver::spool::{Entry, Item, Spool};
use crate::repo::RepoContext;
use crate::report;

/// Drops the spooled entries named by `ids`, or every delivery of the service called
/// `service` (configured or not). The journals of stopped hooks are taken over first,
/// so their deliveries can be dropped too. Exit 1 when an id names no entry.
pub fn run(
    repo: Option<&Path>,
    ids: &[String],
    service: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if ids.is_empty() && service.is_none() {
        bail!("--drop needs the delivery ids to drop, or --service NAME for all of a service's");
    }
    let context = RepoContext::open(repo)?;
    let state = context.state();
    let spool = Spool::new(state.spool());
    let _lock = spool.lock()?;
    journal::recover(&spool)?;
    let listing = spool.entries()?;
    let ok = super::all_ids_known(ids, &listing.entries, &state.spool(), out);
    let chosen: Vec<&Entry> = listing
        .entries
        .iter()
        .filter(|entry| ids.contains(&entry.id) || service == Some(entry.service()))
        .collect();
    if chosen.is_empty() && ids.is_empty() {
        let name = service.unwrap_or_default();
        report::line(
            out,
            &format!("no spooled deliveries of the service {name:?}"),
        );
    }
    let log = DeliveryLog::new(state.log());
    for entry in chosen {
        spool.remove(&entry.id)?;
        let line = dropped_line(entry);
        let warning = log.append(&line).err();
        report::line(
            out,
            &format!(
                "{}: {} ({}): dropped; it last failed: {}",
                entry.id,
                line.service,
                line.broker,
                entry.last_error()
            ),
        );
        if let Some(error) = warning {
            report::line(
                out,
                &format!("warning: the delivery log was not written: {error:#}"),
            );
        }
    }
    Ok(exit(ok))
}

/// The log line of a dropped entry: no attempt, its final state.
fn dropped_line(entry: &Entry) -> Attempt {
    let outcome = Outcome::failed(format!(
        "dropped by `pushbroker redeliver --drop`; it last failed: {}",
        entry.last_error()
    ));
    match &entry.item {
        Item::Delivery {
            service,
            broker,
            attempts,
            push,
            ref_index,
            ..
        } => Attempt::of(
            &entry.id,
            (service, broker),
            *attempts,
            &outcome,
            Duration::ZERO,
        )
        .about(push, *ref_index),
        Item::Raw { .. } => Attempt::of(&entry.id, ("*", "*"), 0, &outcome, Duration::ZERO),
    }
    .settled(State::Dropped)
}
