//! One attempt of a queued delivery, on a worker: the service is built from the task's
//! own table with this site's grants (the worker's site config decides which secrets a
//! repository may use, as the hook's does), then attempted through
//! [`crate::deliver::attempt_once`], the code every delivery goes through.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::Outcome;
use crate::config::{SiteConfig, Source, repo};
use crate::deliver::log::Attempt;
use crate::deliver::spool::{Item, restore_hidden};
use crate::deliver::{self, Job};
use crate::state::StateDir;
use crate::trust::secrets::Grants;

use super::{Task, repository_key};

/// The state directory a worker uses for `task`: the repository's own when the
/// repository is on this machine (its outbox, its custom brokers' working directory),
/// else `<state_root>/<repository key>`.
pub fn state_for(task: &Task, state_root: &Path) -> StateDir {
    match task.state.parent() {
        Some(meta) if meta.is_dir() => StateDir::new(task.state.clone()),
        _ => StateDir::new(state_root.join(repository_key(&task.repository))),
    }
}

/// Attempt number `attempt` of `task`: its outcome and its log line.
pub fn attempt(
    site: &SiteConfig,
    task: &Task,
    attempt: u32,
    state_root: &Path,
) -> (Outcome, Attempt) {
    let Item::Delivery {
        service: name,
        broker,
        ref_index,
        push,
        hidden,
        default_branch,
        ..
    } = &task.entry.item
    else {
        let outcome = Outcome::failed("a queued task holds no delivery");
        return (outcome.clone(), line(task, "?", "?", attempt, &outcome));
    };
    let failed = |outcome: Outcome| {
        let logged = line(task, name, broker, attempt, &outcome);
        (outcome, logged)
    };
    let grants = Grants::for_repository(site, &task.repository);
    let registered: Vec<&str> = site.brokers.keys().map(String::as_str).collect();
    let source = Source {
        path: format!("{} (queued service {name:?})", task.repository.display()).into(),
        text: task.service.clone(),
    };
    let config = match repo::parse(source, &registered, &grants) {
        Ok(config) => config,
        Err(errors) => return failed(Outcome::failed(format!("{errors}"))),
    };
    let state = state_for(task, state_root);
    let (mut services, broken) = crate::service::build_all(&config, site, &state, &grants);
    if let Some(broken) = broken.first() {
        return failed(Outcome::failed(format!("{:#}", broken.error)));
    }
    let Some(service) = services.pop() else {
        return failed(Outcome::failed("the queued task names no service"));
    };
    let mut push = (**push).clone();
    restore_hidden(&mut push, hidden, default_branch);
    let job = Job {
        service: Arc::clone(&service),
        id: task.entry.id.clone(),
        attempts_before: attempt.saturating_sub(1),
        ignore_filter: true,
        ref_index: *ref_index,
    };
    let (outcome, logged, _) = deliver::attempt_once(&push, &job, None, attempt);
    (outcome, logged)
}

/// The log line of an attempt that did not reach a broker.
pub(super) fn line(
    task: &Task,
    service: &str,
    broker: &str,
    attempt: u32,
    outcome: &Outcome,
) -> Attempt {
    Attempt::of(
        &task.entry.id,
        (service, broker),
        attempt,
        outcome,
        Duration::ZERO,
    )
}
