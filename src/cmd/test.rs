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
use crate::scm::{Changes, git, hg};

/// Delivers a test event (the tip of the default branch as one changeset, `"test":
/// true` in the payload; no changesets and no refs in a repository without commits) to
/// every service, or the one named, whatever its branch filter. Every broker marks it
/// as a test where a person reads it. Prints one line per service; nothing is spooled.
/// Exit 1 when any failed.
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
            Some(name) => bail!("{}", super::no_service(&loaded, name)),
            None => bail!("no services configured in {}", loaded.config.path.display()),
        }
    }
    let changes = match &context.vcs {
        // No commit yet (a forge's ping works then too): a test event without changesets.
        Vcs::Git(repo) if has_no_commits(repo) => Changes::default(),
        Vcs::Git(repo) => git::tip_of_default_branch(repo)?,
        Vcs::Hg => {
            let limits = crate::service::limits(&services);
            let state = context.state();
            // A pattern, so that a repository without a `default` branch is no error.
            let mut gathered =
                hg::gather_cli(&context.top, &state, "max(branch('re:^default$'))", limits)?;
            if gathered.total == 0 {
                gathered = hg::gather_cli(&context.top, &state, "tip - null", limits)?;
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

/// Whether the Git repository has no commit at all: `HEAD` names an unborn branch and
/// no ref exists.
fn has_no_commits(repo: &git2::Repository) -> bool {
    let unborn = repo
        .head()
        .is_err_and(|error| error.code() == git2::ErrorCode::UnbornBranch);
    unborn
        && repo
            .references()
            .is_ok_and(|mut refs| refs.next().is_none())
}
