//! `pushbroker hook`: the post-receive entry point.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::{Loaded, build_event, exit, settle};
use crate::deliver::journal::{Journal, Planned};
use crate::deliver::log::DeliveryLog;
use crate::deliver::spool::{Entry, RawPush, Spool};
use crate::deliver::{self, Job};
use crate::event::Push;
use crate::push;
use crate::repo::RepoContext;
use crate::report;
use crate::scm::{git, hg};

/// Runs the hook on `input` (the post-receive lines). Prints one line per service to
/// `err`; with `dry_run`, prints what each service would send to `out` instead.
/// Never fails the push: every problem is a line to the pusher. Exits 0 when every
/// delivery was made, skipped or spooled.
pub fn run(
    input: &str,
    dry_run: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode> {
    let started = Instant::now();
    let context = RepoContext::open(None)?;
    let updates = git::input::parse(input)?;
    if updates.is_empty() {
        report::line(err, "no ref updates on stdin: nothing to deliver");
        return Ok(ExitCode::SUCCESS);
    }
    let state = context.state();
    let spool = Spool::new(state.spool());
    let user = push::pusher();
    let loaded = match super::load(&context) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                report::line(err, &error.to_string());
            }
            if dry_run {
                return Ok(ExitCode::FAILURE);
            }
            // Nothing is lost: keep the raw push, and which commits were new, until the
            // config is fixed.
            let raw = RawPush {
                lines: updates.iter().map(git::RefUpdate::to_line).collect(),
                commits: git::new_commit_ids(context.git()?, &updates)
                    .ok()
                    .map(|ids| ids.iter().map(ToString::to_string).collect()),
                refs: None,
            };
            let entry = Entry::raw(raw, &user, &errors.to_string());
            return Ok(spool_raw(&spool, &entry, FIX_CONFIG, err));
        }
    };
    if loaded.services.is_empty() && loaded.broken.is_empty() {
        report::line(
            err,
            &format!("no services configured in {}", loaded.config.path.display()),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let limits = crate::service::limits(&loaded.services);
    let event = match build_event(&context, &loaded, &updates, limits, user.clone()) {
        Ok(event) => event,
        Err(error) if dry_run => return Err(error),
        Err(error) => {
            // Nothing is lost: keep the raw push; `redeliver` reads it again.
            report::line(err, &format!("error: {error:#}"));
            let raw = RawPush {
                lines: updates.iter().map(git::RefUpdate::to_line).collect(),
                ..RawPush::default()
            };
            spool_raw(
                &spool,
                &Entry::raw(raw, &user, &format!("{error:#}")),
                REDELIVER,
                err,
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    if dry_run {
        preview(&loaded, &event, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    deliver_event(&loaded, event, &context, &spool, started, err)
}

/// The hook under Mercurial, called by the shim from inside hg: says what to gather on
/// `out` (one JSON line), reads the gathered push from stdin, delivers. `range` is the
/// push's first and last changeset (absent for a push that only moved bookmarks).
pub fn run_hg(
    range: Option<(&String, &String)>,
    dry_run: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode> {
    let started = Instant::now();
    let context = RepoContext::open_hg(&std::env::current_dir()?)?;
    let state = context.state();
    let spool = Spool::new(state.spool());
    let user = push::pusher();
    let skip = |out: &mut dyn Write| -> Result<()> {
        writeln!(out, "{{\"skip\": true}}")?;
        Ok(out.flush()?)
    };
    let loaded = match super::load(&context) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                report::line(err, &error.to_string());
            }
            // Nothing is lost: keep the raw push until the config is fixed.
            let raw = match range {
                Some((first, last)) => {
                    skip(out)?;
                    RawPush {
                        lines: vec![format!("hg {first} {last}")],
                        ..RawPush::default()
                    }
                }
                // Bookmark moves leave no trace in the repository to rebuild them from:
                // keep the moves themselves.
                None => match ask(out, None).and_then(|()| read_gathered()) {
                    Ok(gathered) => RawPush {
                        refs: Some(hg::to_changes(gathered).refs),
                        ..RawPush::default()
                    },
                    Err(error) => {
                        report::line(err, &format!("error: {error:#}"));
                        return Ok(ExitCode::FAILURE);
                    }
                },
            };
            let entry = Entry::raw(raw, &user, &errors.to_string());
            return Ok(spool_raw(&spool, &entry, FIX_CONFIG, err));
        }
    };
    if loaded.services.is_empty() && loaded.broken.is_empty() {
        skip(out)?;
        report::line(
            err,
            &format!("no services configured in {}", loaded.config.path.display()),
        );
        return Ok(ExitCode::SUCCESS);
    }
    ask(out, Some(crate::service::limits(&loaded.services)))?;
    let gathered = match read_gathered() {
        Ok(gathered) => gathered,
        Err(error) => {
            report::line(err, &format!("error: {error:#}"));
            if let Some((first, last)) = range {
                let raw = RawPush {
                    lines: vec![format!("hg {first} {last}")],
                    ..RawPush::default()
                };
                spool_raw(
                    &spool,
                    &Entry::raw(raw, &user, &format!("{error:#}")),
                    REDELIVER,
                    err,
                );
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let event = super::assemble(&context, &loaded, hg::to_changes(gathered), user);
    if dry_run {
        preview(&loaded, &event, err)?;
        return Ok(ExitCode::SUCCESS);
    }
    deliver_event(&loaded, event, &context, &spool, started, err)
}

/// Asks the hg shim for the push: the changesets `limits` wants detailed, or none (the
/// refs only).
fn ask(out: &mut dyn Write, limits: Option<crate::scm::Limits>) -> Result<()> {
    let request = match limits {
        Some(limits) => serde_json::json!({
            "max_commits": limits.max_commits,
            "diff_lines": limits.diff_lines,
            "heads": limits.heads,
        }),
        // gather() keeps the newest max_commits; a push of bookmarks alone has none.
        None => serde_json::json!({"max_commits": 1, "diff_lines": null}),
    };
    writeln!(out, "{request}")?;
    Ok(out.flush()?)
}

/// The push the hg shim gathered, as it wrote it to stdin.
fn read_gathered() -> Result<hg::Gathered> {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .context("reading the changesets from the hg shim")?;
    serde_json::from_str(&input).context("reading the changesets from the hg shim")
}

/// Delivers a built event to every service (or, in queue mode, publishes it for the
/// workers), spools what failed, prints one line each. Every delivery is in the
/// write-ahead journal before the first is sent (or published), so a hook killed at any
/// point leaves what it did not deliver to `redeliver`.
fn deliver_event(
    loaded: &Loaded,
    event: Push,
    context: &RepoContext,
    spool: &Spool,
    started: Instant,
    err: &mut dyn Write,
) -> Result<ExitCode> {
    let deadline = started + loaded.site.limits.budget.0;
    let jobs = Job::for_push(&loaded.services, &event);
    let mut reports = super::broken_reports(&loaded.broken);
    let log = DeliveryLog::new(context.state().log());
    for report in &mut reports {
        deliver::log_unattempted(&event, report, &log);
    }
    let planned: Vec<Planned> = jobs
        .iter()
        .map(|job| Planned {
            id: job.id.clone(),
            service: job.service.name.clone(),
            broker: job.service.broker_name.clone(),
            ref_index: job.ref_index,
        })
        .chain(reports.iter().map(|report| Planned {
            id: report.delivery.clone(),
            service: report.service.clone(),
            broker: report.broker.clone(),
            ref_index: None,
        }))
        .collect();
    // Delivering without the journal beats not delivering: the pusher is told.
    let (journal, unjournaled) = match Journal::begin(spool, &event, &planned) {
        Ok(journal) => (Some(journal), None),
        Err(error) => (None, Some(format!("{error:#}"))),
    };
    let event = Arc::new(event);
    reports.extend(super::send(
        loaded,
        context,
        &event,
        jobs,
        deadline,
        false,
        journal.as_ref(),
    ));
    let log = DeliveryLog::new(context.state().log());
    let kept = settle(&reports, (&event, &log), spool, err, journal.as_ref());
    if let Some(error) = unjournaled {
        report::line(
            err,
            &format!(
                "warning: the deliveries were not written down before sending ({error}): had the hook been killed, they would be lost"
            ),
        );
    }
    if let Some(signal) = deliver::stop::requested() {
        report::line(
            err,
            &format!(
                "stopped by {}: what was not delivered is spooled for `pushbroker redeliver`",
                deliver::stop::name(signal)
            ),
        );
    }
    // With a delivery the spool could not take, the journal stays: `redeliver` can
    // still spool it from there once the disk has room.
    if let Some(journal) = journal
        && kept
        && let Err(error) = journal.finish()
    {
        report::line(err, &format!("warning: {error:#}"));
    }
    Ok(exit(kept))
}

/// What to do about a push spooled because the config is broken.
const FIX_CONFIG: &str = "fix the config (`pushbroker check`), then run `pushbroker redeliver`";
/// What to do about a push spooled because it could not be read.
const REDELIVER: &str = "run `pushbroker redeliver` once the repository reads again";

/// Keeps a push whose event could not be built, for `redeliver`; `then` tells the
/// pusher what to do next.
fn spool_raw(spool: &Spool, entry: &Entry, then: &str, err: &mut dyn Write) -> ExitCode {
    match spool.write(entry) {
        Ok(_) => {
            report::line(err, &format!("no service ran; the push is spooled: {then}"));
            ExitCode::SUCCESS
        }
        Err(error) => {
            report::line(
                err,
                &format!(
                    "no service ran and the push could NOT be spooled ({error:#}): it is lost"
                ),
            );
            ExitCode::FAILURE
        }
    }
}

fn preview(loaded: &Loaded, event: &Push, out: &mut dyn Write) -> Result<()> {
    for broken in &loaded.broken {
        writeln!(
            out,
            "=== {} ({}) ===\n(cannot be built: {:#})\n",
            broken.name, broken.broker_name, broken.error
        )?;
    }
    for job in Job::for_push(&loaded.services, event) {
        let service = &job.service;
        let about = job.ref_index.and_then(|index| event.refs.get(index));
        match about {
            Some(change) => writeln!(
                out,
                "=== {} ({}) {} ===",
                service.name, service.broker_name, change.name
            )?,
            None => writeln!(out, "=== {} ({}) ===", service.name, service.broker_name)?,
        }
        if let Some(reason) = service.skip_reason(event, job.ref_index) {
            writeln!(out, "(skipped: {reason})\n")?;
            continue;
        }
        let delivery = deliver::delivery(event, service, &job.id, job.ref_index);
        writeln!(out, "{}", service.broker.preview(&delivery)?)?;
    }
    Ok(())
}
