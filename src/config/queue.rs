//! The site's `[queue]` table: queue mode, where the hook publishes each delivery to NATS
//! JetStream and `pushbroker worker`s deliver it (see [`crate::queue`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::secret::SecretRef;
use super::values::Timeout;

/// `[queue]`: the NATS servers and how deliveries are retried there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSite {
    /// One or more servers, comma-separated: `nats://nats-1:4222,nats://nats-2:4222`.
    pub url: String,
    /// A NATS credentials file (`.creds`: a user JWT and its nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A user name, with `password`.
    pub user: Option<String>,
    /// The user's password: `env:NAME`, `file:/path` or inline.
    pub password: Option<SecretRef>,
    /// PEM certificates to trust for the servers' TLS (an internal CA); TLS is then
    /// required.
    pub ca_file: Option<PathBuf>,
    /// How long the hook waits for the queue (connect and publish) before it spools the
    /// delivery locally instead (default 500 ms).
    #[serde(default = "default_timeout")]
    pub timeout: Timeout,
    /// The work stream's name (default `PUSHBROKER`); the dead-letter stream is
    /// `<stream>_DEAD`, the workers' attempt log `<stream>_LOG`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Attempts a worker makes of one delivery before it goes to the dead-letter stream
    /// (default 6).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first wait before a worker retries (default 2 s); it doubles each time, up to
    /// 10 minutes, unless the receiver asked for another wait (`Retry-After`).
    #[serde(default = "default_retry_delay")]
    pub retry_delay: Timeout,
    /// How long a worker may hold a delivery without word before another worker gets it
    /// (default 60 s; a worker sends progress while a delivery runs).
    #[serde(default = "default_ack_wait")]
    pub ack_wait: Timeout,
}

fn default_timeout() -> Timeout {
    Timeout(Duration::from_millis(500))
}

fn default_stream() -> String {
    "PUSHBROKER".into()
}

fn default_attempts() -> u32 {
    6
}

fn default_retry_delay() -> Timeout {
    Timeout(Duration::from_secs(2))
}

fn default_ack_wait() -> Timeout {
    Timeout(Duration::from_secs(60))
}

impl QueueSite {
    /// What is wrong with it, if anything: the key and the message.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.url.split(',').all(|url| url.trim().is_empty()) {
            return Some((
                "url",
                "[queue] url names no server: write e.g. \"nats://127.0.0.1:4222\"".into(),
            ));
        }
        if self.password.is_some() && self.user.is_none() {
            return Some(("password", "[queue] password needs a user".into()));
        }
        if self.stream.is_empty()
            || !self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Some((
                "stream",
                "[queue] stream is a name of letters, digits, _ and -".into(),
            ));
        }
        if self.max_attempts == 0 {
            return Some((
                "max_attempts",
                "[queue] max_attempts must be at least 1".into(),
            ));
        }
        None
    }

    /// The wait before attempt `next` (2 for the first retry), `retry_after` when the
    /// receiver asked for one.
    pub fn retry_wait(&self, next: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| {
            let doublings = next.saturating_sub(2).min(16);
            (self.retry_delay.0 * 2u32.pow(doublings)).min(Duration::from_secs(600))
        })
    }
}
