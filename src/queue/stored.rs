//! What the queue keeps for a repository besides its work: the dead letters, which
//! `redeliver --dead` puts back on the work stream, and the workers' attempt log, which
//! `pushbroker log` merges with the repository's own.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt;

use super::publish::{Outgoing, publish};
use super::{Task, connect, context, dead_subject, log_subject, runtime, work_subject};
use crate::config::queue::QueueSite;
use crate::deliver::log::Attempt;
use crate::deliver::spool::Item;

/// Every message of `stream_name` on `subject`, with its stream sequence, oldest first.
async fn read_all(
    js: &jetstream::Context,
    stream_name: &str,
    subject: &str,
) -> Result<(stream::Stream, Vec<(u64, Vec<u8>)>)> {
    let stream = js
        .get_stream(stream_name)
        .await
        .with_context(|| format!("opening the stream {stream_name}"))?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            filter_subject: subject.to_string(),
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .with_context(|| format!("reading the stream {stream_name}"))?;
    let mut found = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .with_context(|| format!("reading the stream {stream_name}"))?;
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|error| anyhow::anyhow!("{error}"))?;
            let sequence = message.info().map(|info| info.stream_sequence).unwrap_or(0);
            found.push((sequence, message.payload.to_vec()));
            got += 1;
        }
        if got == 0 {
            break;
        }
    }
    Ok((stream, found))
}

/// A dead letter put back on the work stream.
pub struct Requeued {
    /// The delivery id.
    pub delivery: String,
    /// The service.
    pub service: String,
    /// Its new stream sequence, or why it was not re-queued (it stays a dead letter).
    pub result: Result<u64, String>,
}

/// Puts every dead letter of `repository` back on the work stream, with a fresh message
/// id and the same delivery id; a re-queued letter leaves the dead-letter stream.
pub fn requeue_dead(queue: &QueueSite, repository: &Path) -> Result<Vec<Requeued>> {
    let runtime = runtime()?;
    let (stream, letters) = runtime.block_on(async {
        let js = context(queue, connect(queue, false).await?);
        read_all(
            &js,
            &format!("{}_DEAD", queue.stream),
            &dead_subject(queue, repository),
        )
        .await
    })?;
    let mut tasks = Vec::new();
    for (sequence, body) in letters {
        if let Ok(task) = serde_json::from_slice::<Task>(&body)
            && task.version_ok()
        {
            tasks.push((sequence, task));
        }
    }
    let outgoing: Vec<Outgoing> = tasks
        .iter()
        .map(|(_, task)| Outgoing {
            subject: work_subject(queue, broker_of(task), &task.repository),
            message_id: format!("{}.{}", task.entry.id, uuid::Uuid::new_v4()),
            body: serde_json::to_vec(task).unwrap_or_default(),
        })
        .collect();
    let results = publish(queue, &outgoing, Duration::from_secs(30));
    let mut requeued = Vec::new();
    for ((sequence, task), result) in tasks.into_iter().zip(results) {
        let result = match result {
            Ok((new, _)) => {
                runtime.block_on(async { stream.delete_message(sequence).await.ok() });
                Ok(new)
            }
            Err(problem) => Err(problem),
        };
        requeued.push(Requeued {
            delivery: task.entry.id.clone(),
            service: task.entry.service().to_string(),
            result,
        });
    }
    Ok(requeued)
}

fn broker_of(task: &Task) -> &str {
    match &task.entry.item {
        Item::Delivery { broker, .. } => broker,
        Item::Raw { .. } => "",
    }
}

/// The attempts workers made for `repository`, oldest first.
pub fn worker_attempts(queue: &QueueSite, repository: &Path) -> Result<Vec<Attempt>> {
    let runtime = runtime()?;
    let (_, lines) = runtime.block_on(async {
        let js = context(queue, connect(queue, false).await?);
        read_all(
            &js,
            &format!("{}_LOG", queue.stream),
            &log_subject(queue, repository),
        )
        .await
    })?;
    Ok(lines
        .iter()
        .filter_map(|(_, body)| serde_json::from_slice(body).ok())
        .collect())
}
