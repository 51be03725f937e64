//! The commands: each takes its arguments and the output streams, returns an exit code.
//! The steps they share (loading the config, building the event, settling the outcomes)
//! are here.

pub mod brokers;
pub mod check;
pub mod drop;
pub mod hook;
pub mod install;
pub mod log;
pub mod log_show;
pub mod payload;
pub mod redeliver;
pub mod requeue;
pub mod test;
pub mod verify;
pub mod worker;

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;

use crate::config::{self, ConfigErrors, RepoConfig, SiteConfig};
use crate::deliver::Report;
use crate::deliver::journal::Journal;
use crate::deliver::log::{Attempt, DeliveryLog, State};
use crate::deliver::spool::{Entry, Spool};
use crate::event::Push;
use crate::push;
use crate::repo::RepoContext;
use crate::report::{self, Kept};
use crate::scm::{Changes, Limits, git};
use crate::service::{self, Broken, Service};
use crate::trust::secrets::Grants;

/// A repository's configuration, loaded and built.
pub struct Loaded {
    /// The site config.
    pub site: SiteConfig,
    /// The repository config.
    pub config: RepoConfig,
    /// The services that were built.
    pub services: Vec<Arc<Service>>,
    /// The services that could not be built.
    pub broken: Vec<Broken>,
}

/// [`load`], or each config error as an `error:` line on `out` and `None` (the command
/// then exits 1).
pub fn load_or_print(context: &RepoContext, out: &mut dyn Write) -> Result<Option<Loaded>> {
    match load(context) {
        Ok(loaded) => Ok(Some(loaded)),
        Err(errors) => {
            for error in &errors.0 {
                writeln!(out, "error: {error}")?;
            }
            Ok(None)
        }
    }
}

/// Says, one line each, which of `ids` names none of `entries` (the spool at `spool`).
/// True when every id names one.
pub fn all_ids_known(
    ids: &[String],
    entries: &[Entry],
    spool: &std::path::Path,
    out: &mut dyn Write,
) -> bool {
    let mut known = true;
    for id in ids
        .iter()
        .filter(|id| !entries.iter().any(|entry| &entry.id == *id))
    {
        known = false;
        report::line(
            out,
            &format!(
                "{}: no such delivery in {}",
                crate::deliver::spool::shown(id),
                spool.display()
            ),
        );
    }
    known
}

/// Loads the site and repository configs of `context` and builds its services.
pub fn load(context: &RepoContext) -> Result<Loaded, ConfigErrors> {
    // The repository config is read against the site's registered brokers, so a site
    // config error is reported alone.
    let site = config::site::load()?;
    let registered: Vec<&str> = site.brokers.keys().map(String::as_str).collect();
    let grants = Grants::for_repository(&site, &context.top);
    let config = config::repo::load(&context.config_path(), &registered, &grants)?;
    let (services, broken) = service::build_all(&config, &site, &context.state(), &grants);
    Ok(Loaded {
        site,
        config,
        services,
        broken,
    })
}

/// Builds the event of the Git push `updates` describes.
pub fn build_event(
    context: &RepoContext,
    loaded: &Loaded,
    updates: &[git::RefUpdate],
    limits: Limits,
    user: String,
) -> Result<Push> {
    let changes = git::collect(context.git()?, updates, limits)?;
    Ok(assemble(context, loaded, changes, user))
}

/// The event of `changes` in this repository.
pub fn assemble(context: &RepoContext, loaded: &Loaded, changes: Changes, user: String) -> Push {
    let repository = push::repository(context, &loaded.config.repository, &loaded.site);
    push::assemble(changes, repository, &loaded.site, user)
}

/// Makes `jobs` of `push` now, or in queue mode publishes them for the workers
/// (`republish`: deliveries published before, which need fresh message ids).
pub fn send(
    loaded: &Loaded,
    context: &RepoContext,
    push: &Arc<Push>,
    jobs: Vec<crate::deliver::Job>,
    deadline: std::time::Instant,
    republish: bool,
    journal: Option<&Journal>,
) -> Vec<Report> {
    let state = context.state();
    match &loaded.site.queue {
        Some(queue) => {
            let reports = crate::queue::enqueue::enqueue(
                queue,
                (&context.repository_path(), &state),
                push,
                jobs,
                republish,
                deadline.saturating_duration_since(std::time::Instant::now()),
            );
            // Published (or filtered out): the queue has it now. What failed is
            // settled when it is spooled.
            if let Some(journal) = journal {
                for report in reports.iter().filter(|report| !report.outcome.is_failure()) {
                    let _ = journal.settled(&report.delivery);
                }
            }
            reports
        }
        None => {
            let log = crate::deliver::log::DeliveryLog::new(state.log());
            let bounds = crate::deliver::Bounds::of(&loaded.site.limits);
            crate::deliver::run(Arc::clone(push), jobs, &log, deadline, bounds, journal)
        }
    }
}

/// Spools every failed delivery and prints one line per report; each one spooled is
/// settled in `journal`. Returns false when a failed delivery could not be spooled (the
/// event is lost for that service; `log` then gets its `lost` line).
pub fn settle(
    reports: &[Report],
    (push, log): (&Push, &DeliveryLog),
    spool: &Spool,
    err: &mut dyn Write,
    journal: Option<&Journal>,
) -> bool {
    let mut all_kept = true;
    for delivery in reports {
        let kept = if delivery.outcome.is_failure() {
            let entry = Entry::delivery(delivery, push);
            match spool.write(&entry) {
                Ok(_) => {
                    if let Some(journal) = journal {
                        let _ = journal.settled(&delivery.delivery);
                    }
                    Kept::Spooled
                }
                Err(error) => {
                    all_kept = false;
                    let outcome = crate::broker::Outcome {
                        detail: format!("{}; NOT spooled: {error:#}", delivery.outcome.detail),
                        ..delivery.outcome.clone()
                    };
                    let who = (delivery.service.as_str(), delivery.broker.as_str());
                    let zero = std::time::Duration::ZERO;
                    let line =
                        Attempt::of(&delivery.delivery, who, delivery.attempts, &outcome, zero)
                            .about(push, delivery.ref_index)
                            .settled(State::Lost);
                    let _ = log.append(&Attempt {
                        exchange: None,
                        ..line
                    });
                    Kept::Lost(format!("{error:#}"))
                }
            }
        } else {
            Kept::NotNeeded
        };
        report::line(err, &report::service_line(delivery, &kept, &push.refs));
        if let Some(error) = &delivery.log_error {
            report::line(
                err,
                &format!("warning: the delivery log was not written: {error}"),
            );
        }
    }
    all_kept
}

/// The reports of services that could not be built: failed, to be spooled like the rest.
pub fn broken_reports(broken: &[Broken]) -> Vec<Report> {
    broken
        .iter()
        .map(|broken| Report {
            service: broken.name.clone(),
            broker: broken.broker_name.clone(),
            delivery: crate::deliver::new_delivery_id(),
            ref_index: None,
            outcome: crate::broker::Outcome::failed(format!("{:#}", broken.error)),
            attempts: 1,
            log_error: None,
        })
        .collect()
}

/// Why `--service NAME` finds no built service: it is off, or there is none by that name.
pub fn no_service(loaded: &Loaded, name: &str) -> String {
    let path = loaded.config.path.display();
    match loaded
        .config
        .services
        .iter()
        .find(|service| service.name == name)
    {
        Some(service) if !service.enabled => {
            format!("the service {name:?} is off (enabled = false in {path})")
        }
        _ => format!("no service named {name:?} in {path}"),
    }
}

/// Exit status 0 or 1.
pub fn exit(ok: bool) -> std::process::ExitCode {
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
