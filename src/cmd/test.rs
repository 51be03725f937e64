//! `pushbroker test [REPO] [--service NAME]`: the forge's "Test delivery" button.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};

use super::exit;
use crate::deliver::log::DeliveryLog;
use crate::deliver::{self, Job};
use crate::push;
use crate::repo::{RepoContext, Vcs};
use crate::report::{self, Kept};
use crate::scm::{git, hg};

/// Delivers a test event (the tip of the default branch as one changeset, `"test":
/// true` in the payload) to every service, or the one named, whatever its branch
/// filter. Prints one line per service; nothing is spooled. Exit 1 when any failed.
pub fn run(repo: Option<&Path>, only: Option<&str>, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let loaded = super::load(&context)?;
    let services: Vec<_> = loaded
        .services
        .iter()
        .filter(|service| only.is_none_or(|name| service.name == name))
        .cloned()
        .collect();
    if services.is_empty() {
        match only {
            Some(name) => bail!(
                "no service named {name:?} in {}",
                loaded.config.path.display()
            ),
            None => bail!("no services configured in {}", loaded.config.path.display()),
        }
    }
    let changes = match &context.vcs {
        Vcs::Git(repo) => git::tip_of_default_branch(repo)?,
        Vcs::Hg => {
            let limits = crate::service::limits(&services);
            let state = context.state();
            let mut gathered =
                hg::gather_cli(&context.top, &state, "max(branch(default))", limits)?;
            if gathered.total == 0 {
                gathered = hg::gather_cli(&context.top, &state, "tip", limits)?;
            }
            hg::to_changes(gathered)
        }
    };
    let mut event = super::assemble(&context, &loaded, changes, push::pusher());
    event.test = true;
    let jobs = Job::for_push(&services, &event)
        .into_iter()
        .map(|job| Job {
            ignore_filter: true,
            ..job
        })
        .collect();
    let deadline = Instant::now() + loaded.site.limits.budget.0;
    let event = Arc::new(event);
    let reports = deliver::run(
        Arc::clone(&event),
        jobs,
        &DeliveryLog::new(context.state().log()),
        deadline,
        deliver::Bounds::of(&loaded.site.limits),
        None,
    );
    for delivery in &reports {
        report::line(
            out,
            &report::service_line(delivery, &Kept::NotNeeded, &event.refs),
        );
    }
    Ok(exit(
        !reports.iter().any(|delivery| delivery.outcome.is_failure()),
    ))
}
