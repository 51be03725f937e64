//! `pushbroker worker`: takes deliveries from the work stream and makes them.
//!
//! Each message is one attempt: delivered (or nothing to send) → acknowledged; failed
//! but worth another try → negatively acknowledged with an explicit delay (our backoff,
//! or the receiver's `Retry-After`: a plain nak would ignore any backoff); attempts used
//! up, or failed for good → published to the dead-letter stream, then terminated. While
//! an attempt runs the worker sends progress, so `ack_wait` does not run out under a
//! long delivery; a worker that dies leaves its messages unacknowledged, and the server
//! gives them to another worker after `ack_wait`. Every attempt is published to the log
//! stream. SIGTERM/SIGINT stop the worker from taking more; attempts in flight finish
//! (at most `ack_wait`), and what it had not started stays unacknowledged for others.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{Task, attempt, connect, context, dead_subject, ensure_streams, log_subject};
use crate::broker::{Outcome, Verdict};
use crate::config::SiteConfig;
use crate::config::queue::QueueSite;
use crate::deliver::log::{Attempt, State};
use crate::deliver::spool::Item;

/// How a worker runs.
pub struct Options {
    /// Deliveries made at once.
    pub concurrency: usize,
    /// Take only deliveries through this broker (all when `None`). One broker per
    /// worker: nats-server 2.9 filters a consumer by one subject.
    pub broker: Option<String>,
    /// Where the state of repositories that are not on this machine goes.
    pub state_root: PathBuf,
}

/// The durable consumer a worker serving `broker` shares with its peers, and its subject.
fn consumer(queue: &QueueSite, broker: Option<&str>) -> (String, String) {
    match broker {
        None => ("workers".into(), format!("{}.work.>", queue.stream)),
        Some(broker) => {
            let broker = super::token(broker);
            (
                format!("workers-{broker}"),
                format!("{}.work.{broker}.>", queue.stream),
            )
        }
    }
}

/// Runs a worker until SIGTERM or SIGINT.
pub fn run(site: SiteConfig, options: Options, out: &mut dyn Write) -> Result<ExitCode> {
    let queue = site.queue.clone().context(
        "pushbroker worker needs a [queue] table in the site config (see README, Queue mode)",
    )?;
    let runtime = super::runtime()?;
    runtime.block_on(work(Arc::new(site), queue, options, out))
}

async fn work(
    site: Arc<SiteConfig>,
    queue: QueueSite,
    options: Options,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let client = connect(&queue, true).await?;
    let js = context(&queue, client);
    ensure_streams(&queue, &js).await?;
    let stream = js
        .get_stream(&queue.stream)
        .await
        .with_context(|| format!("opening the stream {}", queue.stream))?;
    let (name, subject) = consumer(&queue, options.broker.as_deref());
    let config = pull::Config {
        durable_name: Some(name.clone()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: queue.ack_wait.0,
        max_deliver: -1,
        max_ack_pending: -1,
        filter_subject: subject,
        ..Default::default()
    };
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(&name, config)
        .await
        .with_context(|| format!("creating the queue consumer {name}"))?;
    let concurrency = options.concurrency.max(1);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(concurrency)
        .messages()
        .await
        .context("taking deliveries from the queue")?;
    crate::report::line(
        out,
        &format!(
            "worker: taking deliveries from {} as {name}, {concurrency} at a time",
            queue.stream
        ),
    );
    let _ = out.flush();
    let slots = Arc::new(Semaphore::new(concurrency));
    let state_root = Arc::new(options.state_root);
    let mut running = JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.context("the worker's slots")?,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        let message = tokio::select! {
            message = messages.next() => message,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                crate::report::line(&mut std::io::stderr(), &format!("worker: {error}"));
                continue;
            }
            None => break,
        };
        let context = Handling {
            site: Arc::clone(&site),
            queue: queue.clone(),
            js: js.clone(),
            state_root: Arc::clone(&state_root),
        };
        running.spawn(async move {
            context.handle(message).await;
            drop(slot);
        });
        while running.try_join_next().is_some() {}
    }
    // Take no more; what is prefetched but not started stays unacknowledged.
    drop(messages);
    crate::report::line(out, "worker: stopping; finishing the deliveries in flight");
    let _ = out.flush();
    let _ = tokio::time::timeout(queue.ack_wait.0, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    js.client().flush().await.ok();
    Ok(ExitCode::SUCCESS)
}

/// What handling one message needs.
struct Handling {
    site: Arc<SiteConfig>,
    queue: QueueSite,
    js: jetstream::Context,
    state_root: Arc<PathBuf>,
}

impl Handling {
    async fn handle(self, message: jetstream::Message) {
        let mut task: Task = match serde_json::from_slice(&message.payload) {
            Ok(task) if Task::version_ok(&task) => task,
            _ => {
                let subject = message.subject.to_string();
                crate::report::line(
                    &mut std::io::stderr(),
                    &format!(
                        "worker: a message on {subject} is not a pushbroker delivery: dropped"
                    ),
                );
                let _ = message.ack_with(AckKind::Term).await;
                return;
            }
        };
        let delivered = message
            .info()
            .map(|info| u32::try_from(info.delivered).unwrap_or(1))
            .unwrap_or(1)
            .max(1);
        let before = match &task.entry.item {
            Item::Delivery { attempts, .. } => *attempts,
            Item::Raw { .. } => 0,
        };
        let number = before + delivered;
        let blocking = tokio::task::spawn_blocking({
            let (site, task, root) = (
                Arc::clone(&self.site),
                task.clone(),
                Arc::clone(&self.state_root),
            );
            move || attempt::attempt(&site, &task, number, &root)
        });
        tokio::pin!(blocking);
        let (outcome, mut line) = loop {
            tokio::select! {
                done = &mut blocking => break done.unwrap_or_else(|_| {
                    let outcome = Outcome::retry("the delivery thread failed");
                    let line = attempt::line(&task, task.entry.service(), "", number, &outcome);
                    (outcome, line)
                }),
                _ = tokio::time::sleep(self.queue.ack_wait.0 / 3) => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        };
        let verdict = match outcome.verdict {
            Verdict::Delivered | Verdict::Skipped | Verdict::Queued => {
                let _ = message.double_ack().await;
                "delivered"
            }
            Verdict::Retry if delivered < self.queue.max_attempts => {
                let wait = self.queue.retry_wait(delivered + 1, outcome.retry_after);
                let _ = message.ack_with(AckKind::Nak(Some(wait))).await;
                line.state = Some(State::Retrying);
                "to retry"
            }
            Verdict::Retry | Verdict::Failed => {
                if let Item::Delivery {
                    attempts,
                    last_error,
                    ..
                } = &mut task.entry.item
                {
                    *attempts = number;
                    *last_error = outcome.detail.clone();
                }
                match self.dead_letter(&task, number).await {
                    Ok(()) => {
                        let _ = message.ack_with(AckKind::Term).await;
                        line.state = Some(State::Dead);
                        "dead letter"
                    }
                    Err(_) => {
                        let wait = self.queue.retry_delay.0;
                        let _ = message.ack_with(AckKind::Nak(Some(wait))).await;
                        line.state = Some(State::Retrying);
                        "to retry (the dead-letter stream did not answer)"
                    }
                }
            }
        };
        // Logged once its final state is known.
        self.log(&task, &line).await;
        crate::report::line(
            &mut std::io::stderr(),
            &format!(
                "worker: {} {} ({}) attempt {number}: {verdict}: {}",
                line.delivery, line.service, line.broker, line.detail
            ),
        );
    }

    /// Publishes the attempt to the log stream; the log is not worth a delivery.
    async fn log(&self, task: &Task, line: &Attempt) {
        let Ok(body) = serde_json::to_vec(line) else {
            return;
        };
        let subject = log_subject(&self.queue, &task.repository);
        if let Ok(ack) = self.js.publish(subject, body.into()).await {
            let _ = ack.await;
        }
    }

    async fn dead_letter(&self, task: &Task, attempt: u32) -> Result<()> {
        let body = serde_json::to_vec(task).context("serializing the dead letter")?;
        let publish = PublishMessage::build()
            .payload(body.into())
            .message_id(format!("{}.dead.{attempt}", task.entry.id));
        self.js
            .send_publish(dead_subject(&self.queue, &task.repository), publish)
            .await
            .context("publishing the dead letter")?
            .await
            .context("storing the dead letter")?;
        Ok(())
    }
}
