//! Publishing to the queue: the hook's deliveries, `redeliver`'s republished ones and the
//! dead letters it re-queues. Every publish is bounded by `[queue] timeout`, connection
//! included, so a queue outage holds a push for that long at most; what could not be
//! published is the caller's to spool.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;

use super::{connect, context, ensure_streams, runtime};
use crate::config::queue::QueueSite;

/// One message to publish.
pub struct Outgoing {
    /// Its subject.
    pub subject: String,
    /// Its `Nats-Msg-Id`: the stream stores one message per id within its duplicate
    /// window.
    pub message_id: String,
    /// The serialized [`super::Task`].
    pub body: Vec<u8>,
}

/// What became of one message: its stream sequence (and whether the stream already had
/// it), or why it was not stored.
pub type Published = Result<(u64, bool), String>;

/// Publishes `messages`; one result per message, in order. `[queue] timeout` bounds the
/// connection and every wait for the queue's next answer (a silent queue costs that
/// long), `budget` the whole (a push of many refs makes many messages). A stream that
/// does not exist yet is created, once.
pub fn publish(site: &QueueSite, messages: &[Outgoing], budget: Duration) -> Vec<Published> {
    let waited = format!(
        "the queue did not answer within {} ms",
        site.timeout.0.as_millis()
    );
    let mut results: Vec<Published> = vec![Err(waited); messages.len()];
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(error) => return vec![Err(format!("{error:#}")); messages.len()],
    };
    runtime.block_on(async {
        let work = publish_all(site, messages, &mut results);
        // Out of budget: what is left keeps the "did not answer" error.
        if let Ok(Err(error)) = tokio::time::timeout(budget.max(site.timeout.0), work).await {
            for result in results.iter_mut().filter(|result| result.is_err()) {
                *result = Err(format!("{error:#}"));
            }
        }
    });
    results
}

async fn publish_all(
    site: &QueueSite,
    messages: &[Outgoing],
    results: &mut [Published],
) -> anyhow::Result<()> {
    let stall = site.timeout.0;
    let client = tokio::time::timeout(stall, connect(site, false))
        .await
        .map_err(|_| {
            anyhow::anyhow!("the queue did not answer within {} ms", stall.as_millis())
        })??;
    let js = context(site, client);
    for round in 0..2 {
        let mut pending = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            if results[index].is_ok() {
                continue;
            }
            let publish = PublishMessage::build()
                .payload(message.body.clone().into())
                .message_id(&message.message_id);
            match tokio::time::timeout(stall, js.send_publish(message.subject.clone(), publish))
                .await
            {
                Ok(Ok(ack)) => pending.push((index, ack)),
                Ok(Err(error)) => results[index] = Err(format!("publishing to the queue: {error}")),
                // Stalled: what is left keeps the "did not answer" error.
                Err(_) => break,
            }
        }
        let mut no_stream = false;
        for (index, ack) in pending {
            let Ok(answer) = tokio::time::timeout(stall, ack).await else {
                return Ok(());
            };
            match answer {
                Ok(ack) => results[index] = Ok((ack.sequence, ack.duplicate)),
                // The streams are not there yet: make them and publish again what is not
                // stored (under the same ids, so nothing is stored twice).
                Err(error) if error.kind() == PublishErrorKind::StreamNotFound => {
                    no_stream = true;
                    results[index] = Err(format!("publishing to the queue: {error}"));
                    break;
                }
                Err(error) => results[index] = Err(format!("publishing to the queue: {error}")),
            }
        }
        if !no_stream || round == 1 {
            break;
        }
        ensure_streams(site, &js).await?;
    }
    Ok(())
}
