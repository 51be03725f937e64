//! Chat brokers: one short message per push, for Slack (and what accepts its webhooks:
//! Mattermost, Rocket.Chat), Discord, Microsoft Teams and Matrix.
//!
//! Every chat says the same thing, in its own markup: who pushed how many changesets to
//! which branch, then the first line of each changeset with its link, newest last, at
//! most [`MAX_LINES`] of them and an "and N more" line. Every piece is capped in
//! characters before markup ([`TITLE_CHARS`], [`NAME_CHARS`], [`HEADLINE_CHARS`]; a link
//! longer than [`MAX_URL`] is left out), so a message stays inside each service's size
//! limit for any input, whatever the escaping adds (bounds per broker, tested with
//! worst-case input below).

pub mod discord;
pub mod matrix;
pub mod msteams;
pub mod slack;

use crate::broker::{BuildContext, Outcome, http};
use crate::config::values::ServiceUrl;
use crate::event::{Commit, Push, RefChange};
use crate::text::{first_line, one_line};

/// A chat webhook: its URL is the credential, so messages show only its host.
pub struct Webhook {
    url: String,
    shown: String,
    agent: ureq::Agent,
}

impl Webhook {
    /// The webhook at `url` (written out, or a granted secret), with the service's agent.
    pub fn new(url: &ServiceUrl, context: &BuildContext<'_>) -> anyhow::Result<Webhook> {
        let target = context.grants.url(url, true)?;
        Ok(Webhook {
            url: target.url.to_string(),
            shown: target.shown,
            agent: http::agent(context),
        })
    }

    /// POSTs `message` as JSON.
    pub fn post(&self, message: &serde_json::Value) -> Outcome {
        let headers = [("Content-Type", "application/json".to_string())];
        http::send(
            &self.agent,
            "POST",
            &self.url,
            &self.shown,
            &headers,
            message.to_string().as_bytes(),
        )
    }

    /// The webhook's host, for [`Broker::destination`](crate::broker::Broker).
    pub fn host(&self) -> Option<String> {
        url::Url::parse(&self.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
    }

    /// What [`Webhook::post`] would send.
    pub fn preview(&self, message: &serde_json::Value) -> anyhow::Result<String> {
        Ok(format!(
            "POST {}\n\n{}\n",
            self.shown,
            serde_json::to_string_pretty(message)?
        ))
    }
}

/// Most changesets listed in one message.
pub const MAX_LINES: usize = 10;
/// Most characters of a changeset's first line in a message.
pub const TITLE_CHARS: usize = 120;
/// Most characters of an author's, the pusher's, a branch's or the repository's name.
pub const NAME_CHARS: usize = 60;
/// Most characters of the headline.
pub const HEADLINE_CHARS: usize = 300;
/// Longest link a message carries (bytes); a longer one is left out (empty), the text kept.
pub const MAX_URL: usize = 300;

/// The message of a push, before a chat's markup.
pub struct Summary {
    /// `alice pushed 3 changesets to acme/widgets (main)`.
    pub headline: String,
    /// The repository's page.
    pub repo_url: String,
    /// `acme/widgets`.
    pub repo_name: String,
    /// The listed changesets, oldest first.
    pub lines: Vec<Line>,
    /// Changesets not listed.
    pub more: usize,
}

/// One listed changeset.
pub struct Line {
    /// The 12-digit id.
    pub short: String,
    /// Its link.
    pub url: String,
    /// Its first line, capped.
    pub title: String,
    /// Its author's name.
    pub author: String,
}

/// The summary of `push`, listing at most `max_commits` (0: no limit beyond the cap).
pub fn summarize(push: &Push, max_commits: usize) -> Summary {
    let commits = push.capped_commits(max_commits);
    let listed = &commits[commits.len().saturating_sub(MAX_LINES)..];
    let repo_name = format!(
        "{}/{}",
        one_line(&push.repository.owner, NAME_CHARS),
        one_line(&push.repository.name, NAME_CHARS)
    );
    let user = one_line(&push.user, NAME_CHARS);
    let headline = match push.total_commits {
        0 => match push.refs.as_slice() {
            [one] => format!("{user} {} in {repo_name}", ref_action(one)),
            [] if push.test => {
                format!("{user} tested this service; {repo_name} has no commits yet")
            }
            refs => format!("{user} updated {} refs in {repo_name}", refs.len()),
        },
        total => {
            let noun = if total == 1 {
                "changeset"
            } else {
                "changesets"
            };
            let branches = branches(push);
            let on = if branches.is_empty() {
                String::new()
            } else {
                format!(" ({})", branches.join(", "))
            };
            format!("{user} pushed {total} {noun} to {repo_name}{on}")
        }
    };
    Summary {
        headline: cap(&format!("{}{headline}", push.test_tag()), HEADLINE_CHARS),
        repo_url: link(&push.repository.website),
        repo_name,
        lines: listed.iter().map(line).collect(),
        more: push.total_commits - listed.len(),
    }
}

fn line(commit: &Commit) -> Line {
    Line {
        short: commit.node.clone(),
        url: link(&commit.url),
        title: first_line(&commit.message, TITLE_CHARS),
        author: one_line(&commit.author, NAME_CHARS),
    }
}

/// `url` when it is at most [`MAX_URL`] bytes, else empty (no link).
fn link(url: &str) -> String {
    match url.len() <= MAX_URL {
        true => url.to_string(),
        false => String::new(),
    }
}

fn branches(push: &Push) -> Vec<String> {
    let names = push.commit_branches();
    names
        .iter()
        .take(3)
        .map(|name| one_line(name, NAME_CHARS))
        .collect()
}

fn ref_action(change: &RefChange) -> String {
    let kind = change.kind.word();
    let name = one_line(&change.name, NAME_CHARS);
    if change.created {
        format!("created {kind} {name}")
    } else if change.deleted {
        format!("deleted {kind} {name}")
    } else {
        format!("moved {kind} {name}")
    }
}

/// `text` with a backslash before each of `special`: chat markdown taken literally.
pub fn escape_markdown(text: &str, special: &[char]) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if special.contains(&ch) {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

/// The "and N more" line, when there is one.
pub fn more_line(more: usize) -> Option<String> {
    match more {
        0 => None,
        1 => Some("and 1 more changeset".into()),
        n => Some(format!("and {n} more changesets")),
    }
}

/// Cuts `text` to at most `max` characters, ending in `…` when cut.
pub fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut capped: String = text.chars().take(max.saturating_sub(1)).collect();
    capped.push('…');
    capped
}
