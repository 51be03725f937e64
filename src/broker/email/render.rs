//! The email's text: subject, body and headers, from one delivery.
//!
//! One changeset: the subject is its first line. Several: a summary subject (how many,
//! on which branches, by whom) and every changeset in the body. No changesets: a short
//! note of the ref changes. Commit text is untrusted: every header value is made one
//! line here, and lettre encodes it. The body, under its caps, is `body.rs`'s.
//!
//! With `per_commit`, a push with changesets makes a summary email and one email per
//! changeset (git-multimail's), each with `In-Reply-To` and `References` naming the
//! summary's `Message-ID`, so a mail reader shows them as one thread.

use super::body::{Caps, body, changeset_body, describe_ref, summary_body};
use crate::broker::Delivery;
use crate::event::{Push, Scm};
use crate::text::{first_line, one_line};

/// The options of the email broker that change the text.
#[derive(Debug, Clone)]
pub struct Options {
    pub subject_prefix: Option<String>,
    pub diff: bool,
    pub ref_changes: bool,
    pub per_commit: bool,
    pub caps: Caps,
}

/// A rendered email, before the transport.
#[derive(Debug)]
pub struct Email {
    pub subject: String,
    pub body: String,
    pub message_id: String,
    /// Extra headers (`Auto-Submitted`, `X-Git-*`), values already one line.
    pub headers: Vec<(&'static str, String)>,
}

/// Every email of `delivery`, the summary first: one, or with `per_commit` one more per
/// changeset; none when there is nothing to send.
pub fn render_all(delivery: &Delivery<'_>, options: &Options) -> Vec<Email> {
    let push = delivery.push;
    let commits = push.capped_commits(delivery.max_commits);
    if !options.per_commit || commits.is_empty() {
        return render(delivery, options).into_iter().collect();
    }
    let prefix = prefix(push, options);
    let summary_id = message_id(delivery.id);
    let mut emails = vec![Email {
        subject: one_line(
            &format!("{}{prefix}{}", push.test_tag(), commits_summary(push)),
            250,
        ),
        body: push.test_note().to_string() + &summary_body(push, commits, options.caps),
        message_id: summary_id.clone(),
        headers: headers(push, delivery.id),
    }];
    for (index, commit) in commits.iter().enumerate() {
        let number = index + 1;
        let mut headers = headers(push, delivery.id);
        headers.retain(|(name, _)| *name != "X-Hg-Node");
        headers.push(("In-Reply-To", summary_id.clone()));
        headers.push(("References", summary_id.clone()));
        headers.push(match push.repository.scm {
            Scm::Git => ("X-Git-Rev", commit.raw_node.clone()),
            Scm::Hg => ("X-Hg-Node", commit.raw_node.clone()),
        });
        emails.push(Email {
            subject: one_line(
                &format!(
                    "{}{prefix}[{number}/{}] {}",
                    push.test_tag(),
                    commits.len(),
                    first_line(&commit.message, 200)
                ),
                250,
            ),
            body: push.test_note().to_string()
                + &changeset_body(push, commit, options.diff, options.caps),
            message_id: message_id(&format!("{}.{number}", delivery.id)),
            headers: headers
                .into_iter()
                .map(|(name, value)| (name, one_line(&value, 400)))
                .collect(),
        });
    }
    emails
}

fn prefix(push: &Push, options: &Options) -> String {
    match &options.subject_prefix {
        Some(prefix) => prefix.clone(),
        None => format!("[{}] ", push.repository.name),
    }
}

fn message_id(local: &str) -> String {
    format!("<{local}@{}>", crate::config::site::hostname())
}

/// Renders the email for `delivery`; `None` when there is nothing to send.
pub fn render(delivery: &Delivery<'_>, options: &Options) -> Option<Email> {
    let push = delivery.push;
    let commits = push.capped_commits(delivery.max_commits);
    if commits.is_empty() && !options.ref_changes {
        return None;
    }
    let prefix = prefix(push, options);
    let summary = match commits {
        [] => ref_summary(push),
        [only] if push.total_commits == 1 => first_line(&only.message, 200),
        _ => commits_summary(push),
    };
    Some(Email {
        subject: one_line(&format!("{}{prefix}{summary}", push.test_tag()), 250),
        body: push.test_note().to_string() + &body(push, commits, options.diff, options.caps),
        message_id: message_id(delivery.id),
        headers: headers(push, delivery.id),
    })
}

fn commits_summary(push: &Push) -> String {
    let branches = push.commit_branches();
    let on = match branches.as_slice() {
        [] => String::new(),
        [one] => format!(" on {one}"),
        [a, b] => format!(" on {a} and {b}"),
        [a, b, rest @ ..] => format!(" on {a}, {b} and {} more", rest.len()),
    };
    match push.total_commits {
        1 => format!("1 new changeset{on} by {}", push.user),
        n => format!("{n} new changesets{on} by {}", push.user),
    }
}

fn ref_summary(push: &Push) -> String {
    match push.refs.as_slice() {
        [one] => format!("{} {}", push.user, describe_ref(one)),
        [] if push.test => format!(
            "{} tested this service; the repository has no commits yet",
            push.user
        ),
        refs => format!("{} updated {} refs", push.user, refs.len()),
    }
}

fn headers(push: &Push, id: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Auto-Submitted", "auto-generated".to_string()),
        ("X-Pushbroker-Delivery", id.to_string()),
    ];
    headers.extend(push.test_header());
    let repo = format!("{}/{}", push.repository.owner, push.repository.name);
    match push.repository.scm {
        Scm::Git => {
            headers.push(("X-Git-Repo", repo));
            if let [one] = push.refs.as_slice() {
                let zero = "0".repeat(40);
                headers.push(("X-Git-Refname", one.refname.clone()));
                headers.push((
                    "X-Git-Oldrev",
                    one.old.clone().unwrap_or_else(|| zero.clone()),
                ));
                headers.push(("X-Git-Newrev", one.new.clone().unwrap_or(zero)));
            }
        }
        Scm::Hg => {
            headers.push(("X-Hg-Repo", repo));
            if let Some(last) = push.commits.last() {
                headers.push(("X-Hg-Node", last.raw_node.clone()));
            }
        }
    }
    headers
        .into_iter()
        .map(|(name, value)| (name, one_line(&value, 400)))
        .collect()
}
