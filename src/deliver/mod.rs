//! Running a push's services: in parallel, with retries, within the hook's budget.
//!
//! Deliveries run on a bounded pool (`pool.rs`: a few threads per core, a few at once to
//! one host), so the hook takes about as long as its slowest service, not the sum, and a
//! push of 10,000 refs starts no more threads or connections than that. Transient failures are retried with backoff while the
//! budget allows; an attempt that used most of its timeout is not repeated inline (the
//! receiver hung: `redeliver` tries again later). Every attempt is one line in the
//! delivery log. What still failed is returned for the caller to spool.

pub mod exchange;
pub mod journal;
pub mod log;
mod pool;
pub mod spool;
pub mod stop;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::broker::{Delivery, Outcome, Verdict};
use crate::event::Push;
use crate::service::Service;
use log::{Attempt, DeliveryLog, State};

/// Most attempts of one delivery in one run (hook, `redeliver` or `test`).
pub const MAX_ATTEMPTS: u32 = 3;
/// The first wait before a retry; it doubles each time.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How long past the budget the hook waits for a delivery thread before giving up on it.
const GRACE: Duration = Duration::from_secs(1);

/// One delivery to make: a service and the delivery's id.
pub struct Job {
    /// The service.
    pub service: Arc<Service>,
    /// The delivery id: new for a push, the original one for a redelivery.
    pub id: String,
    /// Attempts made in earlier runs.
    pub attempts_before: u32,
    /// Deliver even when the service's branch filter does not match (`pushbroker test`).
    pub ignore_filter: bool,
    /// For a per-ref service: the ref this delivery is about.
    pub ref_index: Option<usize>,
}

impl Job {
    /// A first delivery of a push to `service`.
    pub fn new(service: Arc<Service>) -> Job {
        Job {
            service,
            id: new_delivery_id(),
            attempts_before: 0,
            ignore_filter: false,
            ref_index: None,
        }
    }

    /// The first deliveries of `push`: one per service, or one per ref for a per-ref
    /// service (each with its own id).
    pub fn for_push(services: &[Arc<Service>], push: &Push) -> Vec<Job> {
        let mut jobs = Vec::new();
        for service in services {
            // A test of a repository with no commits has no ref: one delivery all the
            // same (GitHub format sends its `ping`).
            if service.per_ref && !(push.test && push.refs.is_empty()) {
                jobs.extend((0..push.refs.len()).map(|index| Job {
                    ref_index: Some(index),
                    ..Job::new(Arc::clone(service))
                }));
            } else {
                jobs.push(Job::new(Arc::clone(service)));
            }
        }
        jobs
    }
}

/// What happened to one delivery.
#[derive(Debug)]
pub struct Report {
    /// The service's name.
    pub service: String,
    /// The broker's name.
    pub broker: String,
    /// The delivery id.
    pub delivery: String,
    /// For a per-ref delivery: the ref's index in the push.
    pub ref_index: Option<usize>,
    /// How the last attempt ended.
    pub outcome: Outcome,
    /// Attempts made, earlier runs included.
    pub attempts: u32,
    /// Set when the delivery log could not be written.
    pub log_error: Option<String>,
}

/// How many deliveries one run makes at once: in all, and to one destination host.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Delivery threads (site `[limits] workers`).
    pub workers: usize,
    /// Deliveries in flight to one host (site `[limits] per_host`).
    pub per_host: usize,
}

impl Bounds {
    /// The site's bounds.
    pub fn of(limits: &crate::config::site::LimitsSite) -> Bounds {
        Bounds {
            workers: limits.workers(),
            per_host: limits.per_host.get(),
        }
    }
}

/// Runs the jobs on a pool of at most `bounds.workers` threads, at most
/// `bounds.per_host` at once to one destination, and waits for all of them, at most until
/// `deadline` (plus a second of grace) or until a signal asks the process to stop
/// ([`stop`]). A job still running or not started then is reported as to be retried.
/// Each delivered or skipped job is marked settled in `journal` as soon as it is.
pub fn run(
    push: Arc<Push>,
    jobs: Vec<Job>,
    log: &DeliveryLog,
    deadline: Instant,
    bounds: Bounds,
    journal: Option<&journal::Journal>,
) -> Vec<Report> {
    // Each job's report until its worker answers: what a job still running at the end
    // of the budget is reported as.
    let mut reports: Vec<Report> = jobs
        .iter()
        .map(|job| {
            report_of(
                job,
                Outcome::retry("did not finish within the hook's time budget"),
            )
        })
        .collect();
    let mut unanswered = vec![true; jobs.len()];
    let receiver = match pool::start(Arc::clone(&push), jobs, log, deadline, bounds) {
        Ok(receiver) => receiver,
        Err(error) => {
            let detail = format!("could not start a delivery thread: {error}");
            for report in &mut reports {
                report.outcome = Outcome::retry(detail.clone());
                log_unattempted(&push, report, log);
            }
            return reports;
        }
    };
    let mut left = reports.len();
    while left > 0 {
        let wait = (deadline + GRACE).saturating_duration_since(Instant::now());
        if wait.is_zero() || stop::requested().is_some() {
            break;
        }
        match receiver.recv_timeout(wait.min(POLL)) {
            Ok((index, report)) => {
                settle_in(journal, &report);
                reports[index] = report;
                unanswered[index] = false;
                left -= 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Every worker is gone (none can answer any more).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // What was answered meanwhile still counts.
    while let Ok((index, report)) = receiver.try_recv() {
        settle_in(journal, &report);
        reports[index] = report;
        unanswered[index] = false;
    }
    if let Some(signal) = stop::requested() {
        let detail = format!("interrupted by {} before it finished", stop::name(signal));
        for (report, _) in reports
            .iter_mut()
            .zip(&unanswered)
            .filter(|(_, open)| **open)
        {
            report.outcome = Outcome::retry(detail.clone());
        }
    }
    // What never answered made no line of its own: its final one.
    for (report, _) in reports
        .iter_mut()
        .zip(&unanswered)
        .filter(|(_, open)| **open)
    {
        log_unattempted(&push, report, log);
    }
    reports
}

/// How often the waiting thread looks for a stop request.
const POLL: Duration = Duration::from_millis(50);

fn settle_in(journal: Option<&journal::Journal>, report: &Report) {
    if let Some(journal) = journal
        && !report.outcome.is_failure()
    {
        // Not recorded, the delivery is redelivered once more if the hook dies now:
        // sent twice with one id rather than lost.
        let _ = journal.settled(&report.delivery);
    }
}

/// The report of `job` ending with `outcome` on its first attempt in this run.
fn report_of(job: &Job, outcome: Outcome) -> Report {
    Report {
        service: job.service.name.clone(),
        broker: job.service.broker_name.clone(),
        delivery: job.id.clone(),
        ref_index: job.ref_index,
        outcome,
        attempts: job.attempts_before + 1,
        log_error: None,
    }
}

pub(crate) fn deliver_with_retries(
    push: &Push,
    job: &Job,
    log: &DeliveryLog,
    deadline: Instant,
) -> Report {
    let service = &job.service;
    let skip = match job.ignore_filter {
        true => None,
        false => service.skip_reason(push, job.ref_index),
    };
    let mut attempt = job.attempts_before;
    let mut log_error = None;
    let mut record = |line: &Attempt| {
        if let Err(error) = log.append(line) {
            log_error = Some(format!("{error:#}"));
        }
    };
    loop {
        attempt += 1;
        let (outcome, line, took) = attempt_once(push, job, skip, attempt);
        let tries_here = attempt - job.attempts_before;
        let hung = took >= service.timeout.mul_f32(0.8);
        let wait = outcome
            .retry_after
            .unwrap_or(FIRST_BACKOFF * 2u32.pow(tries_here - 1));
        let fits = Instant::now() + wait + service.timeout <= deadline;
        // Done, out of tries or time, or asked to stop: the failure so far is what is
        // spooled.
        let done = outcome.verdict != Verdict::Retry
            || tries_here >= MAX_ATTEMPTS
            || hung
            || !fits
            || stop::requested().is_some();
        let state = match done {
            true => final_state(push, &outcome),
            false => State::Retrying,
        };
        record(&line.clone().settled(state));
        if !done && !pause(wait) {
            // Stopped while waiting for the next attempt: this line says so.
            let stopped = Outcome::retry(format!(
                "{} (then stopped by {} before attempt {})",
                outcome.detail,
                stop::requested().map_or("a signal", stop::name),
                attempt + 1
            ));
            let state = final_state(push, &stopped);
            let line = Attempt {
                detail: stopped.detail.clone(),
                duration_ms: 0,
                exchange: None,
                ..line
            };
            record(&line.settled(state));
            return report_with(job, stopped, attempt, log_error);
        }
        if done {
            return report_with(job, outcome, attempt, log_error);
        }
    }
}

/// The final state of a delivery of `push` whose last attempt ended as `outcome`: a
/// failure is spooled, except a test's (never spooled).
pub fn final_state(push: &Push, outcome: &Outcome) -> State {
    match outcome.verdict {
        Verdict::Delivered => State::Delivered,
        Verdict::Skipped => State::Skipped,
        Verdict::Queued => State::Queued,
        Verdict::Retry | Verdict::Failed if push.test => State::Failed,
        Verdict::Retry | Verdict::Failed => State::Spooled,
    }
}

fn report_with(job: &Job, outcome: Outcome, attempts: u32, log_error: Option<String>) -> Report {
    Report {
        log_error,
        attempts,
        ..report_of(job, outcome)
    }
}

/// Logs the final line of a delivery that made no attempt of its own in this run (not
/// started in time, still running at the end of the budget, its service could not be
/// built): it is spooled (a test's: failed).
pub fn log_unattempted(push: &Push, report: &mut Report, log: &DeliveryLog) {
    let service = (report.service.as_str(), report.broker.as_str());
    let zero = Duration::ZERO;
    let line = Attempt::of(
        &report.delivery,
        service,
        report.attempts,
        &report.outcome,
        zero,
    )
    .about(push, report.ref_index)
    .settled(final_state(push, &report.outcome));
    if let Err(error) = log.append(&line) {
        report.log_error = Some(format!("{error:#}"));
    }
}

/// Sleeps `wait`, or less when a stop is requested meanwhile; false then.
fn pause(wait: Duration) -> bool {
    let until = Instant::now() + wait;
    while stop::requested().is_none() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
    false
}

/// One attempt of `job` (its number `attempt`): `skip` (the filters' reason, decided once
/// per delivery) or one delivery by its broker; with its log line and how long it took.
/// The hook, `redeliver`, `test` and queue workers all attempt through here.
pub fn attempt_once(
    push: &Push,
    job: &Job,
    skip: Option<&str>,
    attempt: u32,
) -> (Outcome, Attempt, Duration) {
    let service = &job.service;
    let started = Instant::now();
    let outcome = match skip {
        None => service
            .broker
            .deliver(&delivery(push, service, &job.id, job.ref_index)),
        Some(reason) => Outcome::skipped(reason),
    };
    let took = started.elapsed();
    let line = attempt_line(push, job, attempt, &outcome, took);
    (outcome, line, took)
}

fn attempt_line(
    push: &Push,
    job: &Job,
    attempt: u32,
    outcome: &Outcome,
    took: Duration,
) -> Attempt {
    let service = (job.service.name.as_str(), job.service.broker_name.as_str());
    Attempt::of(&job.id, service, attempt, outcome, took).about(push, job.ref_index)
}

/// The delivery of `push` to `service` under the id `id`.
pub fn delivery<'a>(
    push: &'a Push,
    service: &'a Service,
    id: &'a str,
    ref_index: Option<usize>,
) -> Delivery<'a> {
    Delivery {
        id,
        push,
        service: &service.name,
        broker: &service.broker_name,
        options: &service.options,
        max_commits: service.max_commits,
        ref_index,
    }
}

/// A fresh delivery id (a random UUID).
pub fn new_delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
