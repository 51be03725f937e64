//! `pushbroker redeliver [REPO] [ID…|--all]`: sends spooled deliveries again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::{Loaded, exit, settle};
use crate::deliver::log::DeliveryLog;
use crate::deliver::spool::{self, BadFile, Entry, Item, Spool};
use crate::deliver::{self, Job, journal};
use crate::repo::RepoContext;
use crate::report::{self, Kept};
use crate::scm::{Changes, git, hg};

/// Redelivers the spooled entries named by `ids` (all when empty) through the services
/// as the config defines them now, with their original event and delivery id. A
/// delivered entry leaves the spool; the spool is locked meanwhile, so two runs never
/// send one entry twice. First, the journals of hooks that stopped before they finished
/// become entries (those of running hooks are left to them), and files that are not
/// valid entries move to `spool/bad/`. Exit 0 when nothing is left failing (an empty
/// spool included) and `spool/bad/` is empty; [`UNDELIVERABLE`] when nothing failed but
/// entries of services no longer configured are kept (they are never sent: `redeliver
/// --drop --service NAME` drops them); 1 when some delivery failed again. `only`: the
/// entries of that service alone.
pub fn run(
    repo: Option<&Path>,
    ids: &[String],
    only: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let state = context.state();
    let spool = Spool::new(state.spool());
    let _lock = spool.lock()?;
    let recovered = journal::recover(&spool)?;
    if recovered.spooled > 0 {
        report::line(
            out,
            &format!(
                "{} deliveries of pushes whose hook stopped before it finished are spooled",
                recovered.spooled
            ),
        );
    }
    if recovered.live > 0 {
        report::line(
            out,
            &format!(
                "{} pushes are being delivered by a running hook: left to it",
                recovered.live
            ),
        );
    }
    let listing = spool.entries()?;
    let mut ok = quarantine(&spool, recovered.bad.iter().chain(&listing.bad), out)?;
    let entries: Vec<Entry> = listing
        .entries
        .into_iter()
        .filter(|entry| ids.is_empty() || ids.contains(&entry.id))
        .filter(|entry| only.is_none_or(|name| entry.service() == name))
        .collect();
    ok &= super::all_ids_known(ids, &entries, &state.spool(), out);
    if entries.is_empty() {
        if ok {
            report::line(out, "nothing to redeliver");
        }
        return Ok(exit(ok));
    }
    let loaded = match super::load(&context) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                report::line(out, &error.to_string());
            }
            report::line(
                out,
                &format!(
                    "{} spooled deliveries kept: fix the config first",
                    entries.len()
                ),
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let (stale, entries) = unconfigured(&loaded, entries);
    for (service, count) in &stale {
        let line = if is_off(&loaded, service) {
            format!(
                "the service {service:?} is off (enabled = false): its {count} spooled deliveries are kept until it is on again; `pushbroker redeliver --drop --service {service}` drops them"
            )
        } else {
            format!(
                "the service {service:?} is no longer configured: its {count} spooled deliveries are kept and never sent; `pushbroker redeliver --drop --service {service}` drops them (or configure the service again)"
            )
        };
        report::line(out, &line);
    }
    let total = entries.len();
    for (done, entry) in entries.into_iter().enumerate() {
        if let Some(signal) = deliver::stop::requested() {
            report::line(
                out,
                &format!(
                    "stopped by {}: {} spooled deliveries not tried, kept",
                    deliver::stop::name(signal),
                    total - done
                ),
            );
            return Ok(ExitCode::FAILURE);
        }
        ok &= match entry.item {
            Item::Delivery { .. } => redeliver_one(&context, &loaded, &spool, entry, out)?,
            Item::Raw { .. } => deliver_raw(&context, &loaded, &spool, entry, out)?,
        };
    }
    match (ok, stale.is_empty()) {
        (true, false) => Ok(ExitCode::from(UNDELIVERABLE)),
        _ => Ok(exit(ok)),
    }
}

/// `redeliver`'s exit code when nothing failed but deliveries of services that are no
/// longer configured are kept: they wait for the admin (`--drop`), not for a retry.
pub const UNDELIVERABLE: u8 = 3;

/// The entries of services no longer in the config (counted by service), and the rest.
fn unconfigured(loaded: &Loaded, entries: Vec<Entry>) -> (BTreeMap<String, usize>, Vec<Entry>) {
    let configured = |name: &str| {
        loaded.services.iter().any(|service| service.name == name)
            || loaded.broken.iter().any(|broken| broken.name == name)
    };
    let mut stale = BTreeMap::new();
    let mut rest = Vec::new();
    for entry in entries {
        match &entry.item {
            Item::Delivery { service, .. } if !configured(service) => {
                *stale.entry(service.clone()).or_insert(0) += 1;
            }
            _ => rest.push(entry),
        }
    }
    (stale, rest)
}

/// True when `name` is configured with `enabled = false`.
fn is_off(loaded: &Loaded, name: &str) -> bool {
    loaded
        .config
        .services
        .iter()
        .any(|service| service.name == name && !service.enabled)
}

/// Moves each bad file to `spool/bad/` with one line each, then names what `bad/` holds.
/// True when it holds nothing.
fn quarantine<'a>(
    spool: &Spool,
    bad: impl Iterator<Item = &'a BadFile>,
    out: &mut dyn Write,
) -> Result<bool> {
    for file in bad {
        match spool.quarantine(file) {
            Ok(moved) => report::line(out, &format!("{file}: moved to {}", moved.display())),
            Err(error) => report::line(out, &format!("{file}: left in place ({error:#})")),
        }
    }
    let kept = spool.bad_files()?;
    if !kept.is_empty() {
        report::line(
            out,
            &format!(
                "{} holds {} files that are not valid spool entries, never redelivered: {}; look at them, then remove them",
                spool.bad_dir().display(),
                kept.len(),
                kept.join(", ")
            ),
        );
    }
    Ok(kept.is_empty())
}

/// Sends one spooled delivery through the service of its name.
fn redeliver_one(
    context: &RepoContext,
    loaded: &Loaded,
    spool: &Spool,
    entry: Entry,
    out: &mut dyn Write,
) -> Result<bool> {
    let Item::Delivery {
        service,
        attempts,
        mut push,
        hidden,
        ref_index,
        default_branch,
        ..
    } = entry.item.clone()
    else {
        unreachable!("called for deliveries only");
    };
    let Some(found) = loaded
        .services
        .iter()
        .find(|candidate| candidate.name == service)
    else {
        // Configured, but it cannot be built (`unconfigured` took the others).
        let why = loaded
            .broken
            .iter()
            .find(|broken| broken.name == service)
            .map_or_else(
                || "it is not configured".to_string(),
                |b| format!("{:#}", b.error),
            );
        report::line(
            out,
            &format!(
                "{}: the service {service:?} cannot be built: {why}: kept",
                entry.id
            ),
        );
        return Ok(false);
    };
    spool::restore_hidden(&mut push, &hidden, &default_branch);
    let push = Arc::new(*push);
    let job = Job {
        service: Arc::clone(found),
        id: entry.id.clone(),
        attempts_before: attempts,
        ignore_filter: true,
        ref_index,
    };
    let deadline = Instant::now() + loaded.site.limits.budget.0;
    let report = super::send(loaded, context, &push, vec![job], deadline, true, None)
        .pop()
        .context("one job gives one report")?;
    let kept = if report.outcome.is_failure() {
        let mut again = Entry::delivery(&report, &push);
        again.created = entry.created.clone();
        match spool.write(&again) {
            Ok(_) => Kept::Spooled,
            Err(error) => Kept::Lost(format!("{error:#}")),
        }
    } else {
        spool.remove(&entry.id)?;
        Kept::NotNeeded
    };
    report::line(
        out,
        &format!(
            "{}: {}",
            entry.id,
            report::service_line(&report, &kept, &push.refs)
        ),
    );
    Ok(!report.outcome.is_failure())
}

/// Builds the event of a push spooled raw (its config was invalid) and delivers it to
/// every service; what fails is spooled as deliveries, and the raw entry leaves.
fn deliver_raw(
    context: &RepoContext,
    loaded: &Loaded,
    spool: &Spool,
    entry: Entry,
    out: &mut dyn Write,
) -> Result<bool> {
    let Item::Raw {
        lines,
        user,
        pushed_at,
        commits,
        refs,
        ..
    } = &entry.item
    else {
        unreachable!("called for raw pushes only");
    };
    let limits = crate::service::limits(&loaded.services);
    let hg_range = lines.first().and_then(|line| line.strip_prefix("hg "));
    let built = match (refs, hg_range) {
        // Mercurial bookmark moves pushed alone, as the hook kept them.
        (Some(refs), _) => Ok(Changes {
            refs: refs.clone(),
            ..Changes::default()
        }),
        // A Mercurial push: "hg <first node> <last node>".
        (None, Some(range)) => hg::gather_cli(
            &context.top,
            &context.state(),
            &range.replace(' ', ":"),
            limits,
        )
        .map(hg::to_changes),
        (None, None) => git::input::parse(&lines.join("\n")).and_then(|updates| {
            let known = match commits {
                Some(ids) => Some(
                    ids.iter()
                        .map(|id| git2::Oid::from_str(id))
                        .collect::<Result<Vec<_>, _>>()
                        .context("reading the spooled commit ids")?,
                ),
                None => None,
            };
            git::collect_known(context.git()?, &updates, limits, known.as_deref())
        }),
    }
    .map(|changes| super::assemble(context, loaded, changes, user.clone()));
    let mut event = match built {
        Ok(event) => event,
        Err(error) => {
            report::line(
                out,
                &format!("{}: cannot rebuild the push: {error:#}: kept", entry.id),
            );
            return Ok(false);
        }
    };
    event.pushed_at = pushed_at.clone();
    let jobs = Job::for_push(&loaded.services, &event);
    let event = Arc::new(event);
    let deadline = Instant::now() + loaded.site.limits.budget.0;
    let log = DeliveryLog::new(context.state().log());
    let mut reports = super::broken_reports(&loaded.broken);
    for report in &mut reports {
        deliver::log_unattempted(&event, report, &log);
    }
    reports.extend(super::send(
        loaded, context, &event, jobs, deadline, true, None,
    ));
    report::line(
        out,
        &format!(
            "{}: the push of {} ({} refs), built now:",
            entry.id,
            pushed_at,
            refs.as_ref().map_or(lines.len(), Vec::len)
        ),
    );
    let kept = settle(&reports, (&event, &log), spool, out, None);
    if kept {
        spool.remove(&entry.id)?;
    }
    Ok(kept && !reports.iter().any(|report| report.outcome.is_failure()))
}
