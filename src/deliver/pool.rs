//! The delivery pool: a fixed number of worker threads taking jobs from one queue, at
//! most `per_host` of them at once to one destination host.
//!
//! A push with 10,000 refs to a per-ref service is 10,000 jobs, but never more threads
//! than `workers` nor more connections to one receiver than `per_host`. A job that a
//! worker takes after the deadline, or after a stop was requested, is not started: it is
//! answered as to be retried, and spooled. Workers are detached: a broker stuck past the
//! budget must not hold the push; the process ends when the hook is done.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Instant;

use super::log::DeliveryLog;
use super::{Bounds, Job, Report, deliver_with_retries, report_of, stop};
use crate::broker::Outcome;
use crate::event::Push;

/// The jobs still to take, by destination host (`None`: no host to spare, no limit).
struct Queue {
    waiting: HashMap<Option<String>, VecDeque<usize>>,
    in_flight: HashMap<Option<String>, usize>,
    left: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    jobs: Vec<Job>,
    hosts: Vec<Option<String>>,
    per_host: usize,
}

impl Shared {
    /// The next job a worker may start (oldest first among the hosts with a free slot),
    /// waiting for a slot when every host with jobs is full; `None` when no job is left.
    fn take(&self) -> Option<usize> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        loop {
            if queue.left == 0 {
                return None;
            }
            let free = queue
                .waiting
                .iter()
                .filter(|(host, jobs)| {
                    !jobs.is_empty()
                        && (host.is_none()
                            || queue.in_flight.get(*host).copied().unwrap_or(0) < self.per_host)
                })
                .filter_map(|(host, jobs)| jobs.front().map(|index| (*index, host.clone())))
                .min_by_key(|(index, _)| *index);
            if let Some((index, host)) = free {
                if let Some(jobs) = queue.waiting.get_mut(&host) {
                    jobs.pop_front();
                }
                queue.left -= 1;
                *queue.in_flight.entry(host).or_insert(0) += 1;
                return Some(index);
            }
            queue = self
                .changed
                .wait(queue)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }

    /// Frees the slot of job `index`'s host.
    fn done(&self, index: usize) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(count) = queue.in_flight.get_mut(&self.hosts[index]) {
            *count = count.saturating_sub(1);
        }
        drop(queue);
        self.changed.notify_all();
    }
}

/// Starts the workers on `jobs`; each answers `(job index, report)` on the returned
/// channel. Fails only when not one worker thread could be started (fewer than asked
/// for is enough: they share the queue).
pub fn start(
    push: Arc<Push>,
    jobs: Vec<Job>,
    log: &DeliveryLog,
    deadline: Instant,
    bounds: Bounds,
) -> std::io::Result<mpsc::Receiver<(usize, Report)>> {
    let (sender, receiver) = mpsc::channel();
    if jobs.is_empty() {
        return Ok(receiver);
    }
    let hosts: Vec<Option<String>> = jobs
        .iter()
        .map(|job| job.service.broker.destination())
        .collect();
    let mut waiting: HashMap<Option<String>, VecDeque<usize>> = HashMap::new();
    for (index, host) in hosts.iter().enumerate() {
        waiting.entry(host.clone()).or_default().push_back(index);
    }
    let workers = bounds.workers.clamp(1, jobs.len().max(1));
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            waiting,
            in_flight: HashMap::new(),
            left: jobs.len(),
        }),
        changed: Condvar::new(),
        jobs,
        hosts,
        per_host: bounds.per_host.max(1),
    });
    let mut started = 0;
    let mut failure = None;
    for number in 0..workers {
        let (shared, sender, push, log) = (
            Arc::clone(&shared),
            sender.clone(),
            Arc::clone(&push),
            log.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("delivery-{number}"))
            .spawn(move || work(&shared, &push, &log, deadline, &sender));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    match (started, failure) {
        (0, Some(error)) => Err(error),
        _ => Ok(receiver),
    }
}

fn work(
    shared: &Shared,
    push: &Push,
    log: &DeliveryLog,
    deadline: Instant,
    answer: &mpsc::Sender<(usize, Report)>,
) {
    while let Some(index) = shared.take() {
        let job = &shared.jobs[index];
        // Each report, and whether its delivery logged its own final line.
        let (mut report, logged) = if let Some(signal) = stop::requested() {
            let detail = format!(
                "not started: the hook was stopped by {}",
                stop::name(signal)
            );
            (report_of(job, Outcome::retry(detail)), false)
        } else if Instant::now() >= deadline {
            let detail = "not started within the hook's time budget";
            (report_of(job, Outcome::retry(detail)), false)
        } else {
            // A broker's bug is this delivery's failure (spooled), not the pool's end.
            match catch_unwind(AssertUnwindSafe(|| {
                deliver_with_retries(push, job, log, deadline)
            })) {
                Ok(report) => (report, true),
                Err(_) => {
                    let detail = "internal error in the broker (it panicked)";
                    (report_of(job, Outcome::retry(detail)), false)
                }
            }
        };
        if !logged {
            super::log_unattempted(push, &mut report, log);
        }
        shared.done(index);
        if answer.send((index, report)).is_err() {
            // Nobody waits any more (the hook is past its budget).
            return;
        }
    }
}
