//! Brokers: what a service does with a push.
//!
//! Each broker has a typed config (`XxxConfig`, parsed from its `[[service]]` table)
//! that builds into the broker itself (`XxxBroker`). [`BUILTIN`] is the one place that
//! maps a broker's name to its config parser: adding a broker is one file plus one line
//! there.

pub mod chat;
pub mod email;
pub mod exec;
pub mod http;
pub mod post;

use std::fmt;
use std::time::Duration;

use anyhow::Result;
use serde::de::DeserializeOwned;
use toml::de::ValueDeserializer;

use crate::config::SiteConfig;
use crate::event::{Payload, Push};
use crate::state::StateDir;
use crate::trust::secrets::Grants;

/// A broker's typed options, ready to build.
pub trait BrokerConfig: fmt::Debug + Send + Sync {
    /// Builds the broker for one service.
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>>;

    /// How many lines of each changeset's patch the broker wants (`None`: no patches).
    fn diff_lines(&self) -> Option<usize> {
        None
    }

    /// Whether one push makes one delivery per ref (GitHub's push events) instead of one.
    fn per_ref(&self) -> bool {
        false
    }
}

/// What a broker may need from outside its own options when it is built.
pub struct BuildContext<'a> {
    /// The site config.
    pub site: &'a SiteConfig,
    /// The repository's state directory (`$GIT_DIR/pushbroker`).
    pub state: StateDir,
    /// The service's timeout for one attempt.
    pub timeout: Duration,
    /// The secrets the site grants this repository: the only way a broker gets one.
    pub grants: &'a Grants,
}

/// A built broker: delivers a push, or shows what it would deliver.
pub trait Broker: Send + Sync {
    /// Delivers once. Never panics; every problem is an [`Outcome`].
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome;

    /// What [`Broker::deliver`] would send, for `--dry-run`.
    fn preview(&self, delivery: &Delivery<'_>) -> Result<String>;

    /// The host it connects to, when it has one: the delivery pool makes at most
    /// `[limits] per_host` deliveries at once to one host. `None`: no limit.
    fn destination(&self) -> Option<String> {
        None
    }
}

/// One service's handling of one push.
pub struct Delivery<'a> {
    /// The delivery id, fixed when the delivery is first made.
    pub id: &'a str,
    /// The push.
    pub push: &'a Push,
    /// The service's name.
    pub service: &'a str,
    /// The broker's name.
    pub broker: &'a str,
    /// The service's options with secrets redacted (the payload's `service`).
    pub options: &'a serde_json::Value,
    /// Most changesets this delivery carries (0: all the push has).
    pub max_commits: usize,
    /// For a per-ref broker: which of the push's refs this delivery is about.
    pub ref_index: Option<usize>,
}

impl<'a> Delivery<'a> {
    /// The payload as a custom broker gets it: with `broker` and `service`.
    pub fn payload(&self) -> Payload<'a> {
        self.push
            .payload(self.id, self.max_commits, Some((self.broker, self.options)))
    }

    /// The payload as the original POST service sent it: without `broker` and `service`.
    pub fn bare_payload(&self) -> Payload<'a> {
        self.push.payload(self.id, self.max_commits, None)
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Delivered, to retry, failed for good, or nothing to send.
    pub verdict: Verdict,
    /// What the pusher and the log read: `HTTP 200`, `SMTP 451 …`, a file, a reason.
    pub detail: String,
    /// The receiver's answer as a number, for the log: HTTP status, SMTP reply code,
    /// exit code.
    pub status: Option<i64>,
    /// How long the receiver asked us to wait before retrying (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
    /// What a custom broker printed (capped), for the delivery log.
    pub output: Option<String>,
    /// The HTTP request and response, for `pushbroker log --show` (HTTP brokers).
    pub exchange: Option<Box<http::Exchange>>,
}

/// The kind of an [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The receiver took it.
    Delivered,
    /// Failed, but may succeed later (connection errors, timeouts, 408, 429, 5xx,
    /// SMTP 4xx).
    Retry,
    /// Failed for good (other 4xx, SMTP 5xx, a bad secret).
    Failed,
    /// Nothing to send for this push.
    Skipped,
    /// Handed to the queue (queue mode): a `pushbroker worker` delivers it.
    Queued,
}

impl Outcome {
    fn new(verdict: Verdict, detail: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            detail: detail.into(),
            status: None,
            retry_after: None,
            output: None,
            exchange: None,
        }
    }

    /// Delivered; `detail` is the receiver's answer.
    pub fn delivered(detail: impl Into<String>) -> Outcome {
        Outcome::new(Verdict::Delivered, detail)
    }

    /// Failed for now; worth another attempt.
    pub fn retry(detail: impl Into<String>) -> Outcome {
        Outcome::new(Verdict::Retry, detail)
    }

    /// Failed for good.
    pub fn failed(detail: impl Into<String>) -> Outcome {
        Outcome::new(Verdict::Failed, detail)
    }

    /// Published to the queue; `detail` says where.
    pub fn queued(detail: impl Into<String>) -> Outcome {
        Outcome::new(Verdict::Queued, detail)
    }

    /// Nothing to send; `detail` says why.
    pub fn skipped(detail: impl Into<String>) -> Outcome {
        Outcome::new(Verdict::Skipped, detail)
    }

    /// The receiver's numeric answer.
    pub fn with_status(mut self, status: i64) -> Outcome {
        self.status = Some(status);
        self
    }

    /// The receiver's requested wait before a retry.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Outcome {
        self.retry_after = after;
        self
    }

    /// What the program printed.
    pub fn with_output(mut self, output: Option<String>) -> Outcome {
        self.output = output;
        self
    }

    /// The HTTP exchange of this attempt.
    pub fn with_exchange(mut self, exchange: http::Exchange) -> Outcome {
        self.exchange = Some(Box::new(exchange));
        self
    }

    /// Whether the delivery did not reach its receiver.
    pub fn is_failure(&self) -> bool {
        matches!(self.verdict, Verdict::Retry | Verdict::Failed)
    }
}

type ParseFn = fn(ValueDeserializer<'_>) -> Result<Box<dyn BrokerConfig>, toml::de::Error>;
type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// A built-in broker: its name, what it does (for `pushbroker brokers`), its config
/// parser, and the JSON Schema of that same config type.
pub struct Builtin {
    /// `broker = "…"`.
    pub name: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// Parses its options.
    pub parse: ParseFn,
    /// The schema of its options, derived from the type `parse` fills.
    pub schema: SchemaFn,
}

const fn builtin<C: BrokerConfig + DeserializeOwned + schemars::JsonSchema + 'static>(
    name: &'static str,
    summary: &'static str,
) -> Builtin {
    Builtin {
        name,
        summary,
        parse: parse::<C>,
        schema: C::json_schema,
    }
}

/// The built-in brokers, by name.
pub const BUILTIN: &[Builtin] = &[
    builtin::<email::EmailConfig>(
        "email",
        "an email per push (or per changeset) to a list, through the site's mail transport",
    ),
    builtin::<post::PostConfig>(
        "post",
        "POSTs the push to a URL: Bitbucket form, JSON, GitHub or GitLab webhooks, or a template",
    ),
    builtin::<chat::slack::SlackConfig>(
        "slack",
        "a message to a Slack incoming webhook (Mattermost and Rocket.Chat take it too)",
    ),
    builtin::<chat::discord::DiscordConfig>("discord", "a message to a Discord webhook"),
    builtin::<chat::msteams::TeamsConfig>(
        "msteams",
        "a card to a Microsoft Teams incoming webhook or workflow",
    ),
    builtin::<chat::matrix::MatrixConfig>(
        "matrix",
        "a message to a Matrix room, sent by a bot account",
    ),
];

fn parse<C: BrokerConfig + DeserializeOwned + 'static>(
    options: ValueDeserializer<'_>,
) -> Result<Box<dyn BrokerConfig>, toml::de::Error> {
    Ok(Box::new(C::deserialize(options)?))
}

/// The config parser of the broker called `name`.
pub fn parser(name: &str) -> Option<ParseFn> {
    builtin_named(name).map(|builtin| builtin.parse)
}

/// The built-in broker called `name`.
pub fn builtin_named(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|builtin| builtin.name == name)
}

/// The list of broker names, for messages: the built-in ones, then the registered ones.
pub fn names_hint(registered: &[&str]) -> String {
    let names: Vec<&str> = BUILTIN.iter().map(|builtin| builtin.name).collect();
    match registered {
        [] => format!("brokers: {}", names.join(", ")),
        _ => format!(
            "brokers: {}; registered: {}",
            names.join(", "),
            registered.join(", ")
        ),
    }
}

/// The error for a broker name that does not exist, with the closest name.
pub fn unknown_message(name: &str, registered: &[&str]) -> String {
    let closest = BUILTIN
        .iter()
        .map(|builtin| builtin.name)
        .chain(registered.iter().copied());
    let closest = crate::config::diagnostic::closest(name, closest);
    let hint = names_hint(registered);
    match closest {
        Some(suggestion) => {
            format!("unknown broker `{name}`: did you mean broker = \"{suggestion}\"? ({hint})")
        }
        None => format!(
            "unknown broker `{name}` ({hint}); a custom broker must be registered by the site admin (`pushbroker verify`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_brokers_get_a_suggestion() {
        assert!(unknown_message("emial", &[]).contains("did you mean broker = \"email\""));
        assert!(unknown_message("trelo", &["trello"]).contains("did you mean broker = \"trello\""));
        assert!(!unknown_message("zzzzzz", &[]).contains("did you mean"));
    }
}
