//! The email's text: subject, body and headers, from one delivery.
//!
//! One changeset: the subject is its first line. Several: a summary subject (how many,
//! on which branches, by whom) and every changeset in the body. No changesets: a short
//! note of the ref changes. Commit text is untrusted: every header value is made one
//! line here, and lettre encodes it.

use crate::broker::Delivery;
use crate::event::{Commit, FileChangeKind, Push, RefChange, Scm};
use crate::text::{first_line, one_line};

/// The options of the email broker that change the text.
#[derive(Debug, Clone)]
pub struct Options {
    pub subject_prefix: Option<String>,
    pub diff: bool,
    pub ref_changes: bool,
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

/// Renders the email for `delivery`; `None` when there is nothing to send.
pub fn render(delivery: &Delivery<'_>, options: &Options) -> Option<Email> {
    let push = delivery.push;
    let commits = push.capped_commits(delivery.max_commits);
    if commits.is_empty() && !options.ref_changes {
        return None;
    }
    let prefix = match &options.subject_prefix {
        Some(prefix) => prefix.clone(),
        None => format!("[{}] ", push.repository.name),
    };
    let summary = match commits {
        [] => ref_summary(push),
        [only] if push.total_commits == 1 => first_line(&only.message, 200),
        _ => commits_summary(push),
    };
    Some(Email {
        subject: one_line(&format!("{prefix}{summary}"), 250),
        body: body(push, commits, options),
        message_id: format!("<{}@{}>", delivery.id, crate::config::site::hostname()),
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
    format!("{} new changesets{on} by {}", push.total_commits, push.user)
}

fn ref_summary(push: &Push) -> String {
    match push.refs.as_slice() {
        [one] => format!("{} {}", push.user, describe_ref(one)),
        refs => format!("{} updated {} refs", push.user, refs.len()),
    }
}

fn describe_ref(change: &RefChange) -> String {
    let kind = change.kind.word();
    let short = |id: &Option<String>| id.as_deref().map(crate::scm::short_id).unwrap_or_default();
    if change.created {
        format!("created {kind} {} at {}", change.name, short(&change.new))
    } else if change.deleted {
        format!(
            "deleted {kind} {} (was {})",
            change.name,
            short(&change.old)
        )
    } else {
        let verb = if change.forced {
            "force-updated"
        } else {
            "updated"
        };
        format!(
            "{verb} {kind} {} from {} to {}",
            change.name,
            short(&change.old),
            short(&change.new)
        )
    }
}

fn body(push: &Push, commits: &[Commit], options: &Options) -> String {
    let mut out = String::new();
    let changesets = match push.total_commits {
        0 => "no new changesets".to_string(),
        1 => "1 new changeset".to_string(),
        n => format!("{n} new changesets"),
    };
    out.push_str(&format!(
        "{} pushed {changesets} to {}/{} ({}).\n\n",
        one_line(&push.user, 100),
        push.repository.owner,
        push.repository.name,
        push.repository.website
    ));
    for change in &push.refs {
        out.push_str(&format!("  {}\n", one_line(&describe_ref(change), 300)));
    }
    let left_out = push.total_commits - commits.len();
    if left_out > 0 {
        out.push_str(&format!(
            "\n{left_out} older changesets are not listed; the newest {} follow.\n",
            commits.len()
        ));
    }
    for (index, commit) in commits.iter().enumerate() {
        out.push('\n');
        if commits.len() > 1 {
            out.push_str(&format!("[{}/{}] ", index + 1, commits.len()));
        }
        changeset(&mut out, push.repository.scm, commit, options.diff);
    }
    out.push_str(&format!(
        "\n-- \npushbroker {} for {}\n",
        env!("CARGO_PKG_VERSION"),
        push.repository.website
    ));
    out
}

fn changeset(out: &mut String, scm: Scm, commit: &Commit, diff: bool) {
    let id = match (scm, commit.revision) {
        (Scm::Hg, Some(revision)) => format!("{revision}:{}", commit.node),
        _ => commit.node.clone(),
    };
    out.push_str(&format!("Changeset {id}\n"));
    out.push_str(&format!("Author: {}\n", one_line(&commit.raw_author, 300)));
    out.push_str(&format!(
        "Date:   {} ({} UTC)\n",
        commit.timestamp,
        commit
            .utctimestamp
            .get(..19)
            .unwrap_or(&commit.utctimestamp)
    ));
    if let Some(branch) = &commit.branch {
        out.push_str(&format!("Branch: {}\n", one_line(branch, 200)));
    }
    out.push_str(&format!("Link:   {}\n\n", commit.url));
    for line in commit.message.trim_end().lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("    {line}\n"));
        }
    }
    if !commit.files.is_empty() {
        out.push_str("\nFiles:\n");
        for file in &commit.files {
            let mark = match file.kind {
                FileChangeKind::Added => 'A',
                FileChangeKind::Modified => 'M',
                FileChangeKind::Removed => 'R',
            };
            out.push_str(&format!("  {mark} {}\n", file.file));
        }
    }
    if diff && let Some(patch) = &commit.hidden.diff {
        out.push('\n');
        out.push_str(&patch.text);
        if patch.cut_lines > 0 {
            out.push_str(&format!(
                "[{} more diff lines not shown]\n",
                patch.cut_lines
            ));
        }
    }
}

fn headers(push: &Push, id: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Auto-Submitted", "auto-generated".to_string()),
        ("X-Pushbroker-Delivery", id.to_string()),
    ];
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
