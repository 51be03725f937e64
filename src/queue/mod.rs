//! Queue mode: with a `[queue]` in the site config, the hook publishes each delivery to
//! NATS JetStream instead of making it, and `pushbroker worker`s (any number, on any
//! machines with the same site config) take deliveries from the stream and make them
//! through the very same brokers, attempts and log lines as inline delivery.
//!
//! Three streams, named after `[queue] stream` (default `PUSHBROKER`):
//! - `PUSHBROKER`: the work queue (work-queue retention: a delivery leaves it once a
//!   worker acknowledges it), subjects `PUSHBROKER.work.<broker>.<repository>`;
//! - `PUSHBROKER_DEAD`: deliveries that used up their attempts or failed for good,
//!   subjects `PUSHBROKER.dead.<repository>`, re-queued by `redeliver --dead`;
//! - `PUSHBROKER_LOG`: every attempt a worker made, subjects `PUSHBROKER.log.<repository>`,
//!   which `pushbroker log` merges with the repository's own log.
//!
//! `<repository>` is a hash of the repository's path. A message is a [`Task`]: the
//! delivery as the spool keeps it (event, delivery id, attempts) plus the repository's
//! path and its service's table as written, secret references left as references: no
//! resolved secret ever enters the stream, and a worker builds the service with the
//! grants of its own site config. Its `Nats-Msg-Id` is the delivery id on the first
//! publish (a retried publish is stored once) and a fresh one on a republish.
//!
//! The async client runs on a current-thread runtime started only here: a site without
//! `[queue]` never starts one.

mod attempt;
pub mod enqueue;
pub mod publish;
pub mod stored;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::queue::QueueSite;
use crate::deliver::spool::Entry;

/// The task format's version.
pub const VERSION: u32 = 1;

/// One queued delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// Always [`VERSION`].
    pub version: u32,
    /// The repository's path on the server that published it (grants match it).
    pub repository: PathBuf,
    /// Its state directory there (`$GIT_DIR/pushbroker`).
    pub state: PathBuf,
    /// The service as a repository config of its own, as written.
    pub service: String,
    /// The delivery, as the spool keeps one.
    pub entry: Entry,
}

impl Task {
    /// Whether this version of pushbroker reads this task's format.
    pub fn version_ok(&self) -> bool {
        self.version == VERSION
    }
}

/// A short, subject-safe name for the repository at `path`.
pub fn repository_key(path: &Path) -> String {
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A subject token from a name (broker names are plain, but a token may not hold `.`,
/// `*`, `>` or spaces).
fn token(name: &str) -> String {
    name.chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                true => c,
                false => '_',
            },
        )
        .collect()
}

/// The work subject of a delivery through `broker` for `repository`.
pub fn work_subject(site: &QueueSite, broker: &str, repository: &Path) -> String {
    format!(
        "{}.work.{}.{}",
        site.stream,
        token(broker),
        repository_key(repository)
    )
}

/// The dead-letter subject of `repository`.
pub fn dead_subject(site: &QueueSite, repository: &Path) -> String {
    format!("{}.dead.{}", site.stream, repository_key(repository))
}

/// The attempt-log subject of `repository`.
pub fn log_subject(site: &QueueSite, repository: &Path) -> String {
    format!("{}.log.{}", site.stream, repository_key(repository))
}

/// A current-thread runtime for the client.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the queue client's runtime")
}

/// Connects to the servers of `site`; `patient` keeps trying (a worker), otherwise one
/// try bounded by `[queue] timeout` (the hook).
pub async fn connect(site: &QueueSite, patient: bool) -> Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name(concat!("pushbroker/", env!("CARGO_PKG_VERSION")))
        .connection_timeout(site.timeout.0)
        .request_timeout(Some(site.timeout.0.max(Duration::from_secs(2))));
    if let Some(creds) = &site.creds_file {
        options = options
            .credentials_file(creds)
            .await
            .with_context(|| format!("reading the queue credentials {}", creds.display()))?;
    }
    if let (Some(user), Some(password)) = (&site.user, &site.password) {
        let password = password
            .resolve()
            .context("reading the site's [queue] password")?;
        options = options.user_and_password(user.clone(), password.expose().to_string());
    }
    if let Some(ca) = &site.ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if patient {
        options = options.retry_on_initial_connect();
    } else {
        options = options.max_reconnects(Some(0));
    }
    let servers = site
        .url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<async_nats::ServerAddr>()
                .with_context(|| format!("[queue] url: {url:?} is not a NATS server address"))
        })
        .collect::<Result<Vec<_>>>()?;
    options
        .connect(servers)
        .await
        .context("connecting to the queue")
}

/// The JetStream context on `client`.
pub fn context(site: &QueueSite, client: async_nats::Client) -> jetstream::Context {
    let mut context = jetstream::new(client);
    context.set_timeout(site.timeout.0.max(Duration::from_secs(2)));
    context
}

/// Creates the three streams where they do not exist yet.
pub async fn ensure_streams(site: &QueueSite, context: &jetstream::Context) -> Result<()> {
    let streams = [
        (
            site.stream.clone(),
            format!("{}.work.>", site.stream),
            stream::RetentionPolicy::WorkQueue,
            Duration::ZERO,
        ),
        (
            format!("{}_DEAD", site.stream),
            format!("{}.dead.>", site.stream),
            stream::RetentionPolicy::Limits,
            Duration::ZERO,
        ),
        (
            format!("{}_LOG", site.stream),
            format!("{}.log.>", site.stream),
            stream::RetentionPolicy::Limits,
            Duration::from_secs(30 * 24 * 3600),
        ),
    ];
    for (name, subject, retention, max_age) in streams {
        context
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subject],
                retention,
                max_age,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating the queue stream {name}"))?;
    }
    Ok(())
}
