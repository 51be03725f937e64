//! The hook's side of queue mode: each delivery of a push becomes a [`Task`] on the work
//! stream. Filters are judged here, as inline: a delivery its filters skip is not
//! published. What the queue could not take within `[queue] timeout` is reported as a
//! failed delivery, for the caller to spool as it spools any other.

use std::path::Path;

use super::publish::{Outgoing, publish};
use super::{Task, VERSION, work_subject};
use crate::broker::Outcome;
use crate::config::queue::QueueSite;
use crate::deliver::log::{Attempt, DeliveryLog};
use crate::deliver::spool::Entry;
use crate::deliver::{Job, Report};
use crate::event::Push;
use crate::state::StateDir;

/// The task of `job`: its delivery as the spool would keep it, and where it comes from.
pub fn task(repository: &Path, state: &StateDir, push: &Push, job: &Job) -> Task {
    let pending = Report {
        service: job.service.name.clone(),
        broker: job.service.broker_name.clone(),
        delivery: job.id.clone(),
        ref_index: job.ref_index,
        outcome: Outcome::retry("queued"),
        attempts: job.attempts_before,
        log_error: None,
    };
    Task {
        version: VERSION,
        repository: repository.to_path_buf(),
        state: state.root.clone(),
        service: job.service.written.clone(),
        entry: Entry::delivery(&pending, push),
    }
}

/// Publishes every job of `push` (`fresh_ids`: republished deliveries, which need a
/// `Nats-Msg-Id` the stream has not seen) and reports each: queued, skipped, or failed.
/// Every hook-side line (`queued`, or why not) goes to the repository's own log.
pub fn enqueue(
    queue: &QueueSite,
    (repository, state): (&Path, &StateDir),
    push: &Push,
    jobs: Vec<Job>,
    fresh_ids: bool,
    budget: std::time::Duration,
) -> Vec<Report> {
    let log = DeliveryLog::new(state.log());
    let mut reports = Vec::new();
    let mut outgoing = Vec::new();
    let mut published = Vec::new();
    for job in jobs {
        let report = |outcome: Outcome| Report {
            service: job.service.name.clone(),
            broker: job.service.broker_name.clone(),
            delivery: job.id.clone(),
            ref_index: job.ref_index,
            outcome,
            attempts: job.attempts_before,
            log_error: None,
        };
        let skip = match job.ignore_filter {
            true => None,
            false => job.service.skip_reason(push, job.ref_index),
        };
        if let Some(reason) = skip {
            reports.push(report(Outcome::skipped(reason)));
            continue;
        }
        let body = match serde_json::to_vec(&task(repository, state, push, &job)) {
            Ok(body) => body,
            Err(error) => {
                reports.push(report(Outcome::retry(format!(
                    "serializing the task: {error}"
                ))));
                continue;
            }
        };
        outgoing.push(Outgoing {
            subject: work_subject(queue, &job.service.broker_name, repository),
            message_id: match fresh_ids {
                true => format!("{}.{}", job.id, uuid::Uuid::new_v4()),
                false => job.id.clone(),
            },
            body,
        });
        published.push(report(Outcome::queued("")));
    }
    let results = publish(queue, &outgoing, budget);
    for (mut report, result) in published.into_iter().zip(results) {
        report.outcome = match result {
            Ok((sequence, false)) => Outcome::queued(format!("stream sequence {sequence}")),
            Ok((sequence, true)) => {
                Outcome::queued(format!("stream sequence {sequence}, published before"))
            }
            Err(problem) => Outcome::retry(format!("the queue could not take it: {problem}")),
        };
        let state = crate::deliver::final_state(push, &report.outcome);
        let logged = line(&report).about(push, report.ref_index).settled(state);
        if let Err(error) = log.append(&logged) {
            report.log_error = Some(format!("{error:#}"));
        }
        reports.push(report);
    }
    reports
}

fn line(report: &Report) -> Attempt {
    let service = (report.service.as_str(), report.broker.as_str());
    let zero = std::time::Duration::ZERO;
    Attempt::of(
        &report.delivery,
        service,
        report.attempts,
        &report.outcome,
        zero,
    )
}
