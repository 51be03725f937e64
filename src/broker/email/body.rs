//! The email's body, built under its caps.
//!
//! Every part of a push that can be large is cut *before* it is copied: a changeset's
//! message at `max_message_bytes` (at a line's end), its file list at `max_files`, the
//! ref list at `max_refs`, and the whole body at `max_body_bytes` (once full, nothing more
//! is written and the loops stop). So the cost of an email follows what it shows, not
//! what the push holds. Each cut says so where it happened.

use crate::event::{Commit, FileChangeKind, Push, RefChange, Scm};
use crate::text::{count, first_line, head, one_line, size};

/// How much of a push one email shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most bytes of one changeset's message.
    pub message_bytes: usize,
    /// Most bytes of the whole body (before the cut notice and the signature).
    pub body_bytes: usize,
    /// Most refs listed.
    pub refs: usize,
    /// Most files listed per changeset.
    pub files: usize,
}

/// The body as it grows: text is appended until `room` runs out, then the body is cut
/// at the end of its last whole line and takes nothing more.
struct Text {
    text: String,
    room: usize,
    cut: bool,
}

impl Text {
    fn new(room: usize) -> Text {
        Text {
            text: String::new(),
            room,
            cut: false,
        }
    }

    fn push(&mut self, piece: &str) {
        if self.cut {
            return;
        }
        if piece.len() <= self.room {
            self.text.push_str(piece);
            self.room -= piece.len();
            return;
        }
        self.text.push_str(head(piece, self.room));
        let whole = self.text.rfind('\n').map_or(0, |end| end + 1);
        self.text.truncate(whole);
        self.room = 0;
        self.cut = true;
    }
}

/// The body of the email for `push`, listing `commits` (the newest of the push).
pub fn body(push: &Push, commits: &[Commit], diff: bool, caps: Caps) -> String {
    let mut out = Text::new(caps.body_bytes);
    opening(&mut out, push, commits, caps);
    let mut whole = 0;
    for (index, commit) in commits.iter().enumerate() {
        if out.cut {
            break;
        }
        out.push("\n");
        if commits.len() > 1 {
            out.push(&format!("[{}/{}] ", index + 1, commits.len()));
        }
        changeset(&mut out, push.repository.scm, commit, diff, caps);
        if !out.cut {
            whole += 1;
        }
    }
    let note = format!("{whole} of {} changesets shown in full", commits.len());
    finish(out, push, caps, &note)
}

/// The body of the push's summary email when each changeset has an email of its own
/// (`per_commit`): the refs, what was discarded, and one line per changeset.
pub fn summary_body(push: &Push, commits: &[Commit], caps: Caps) -> String {
    let mut out = Text::new(caps.body_bytes);
    opening(&mut out, push, commits, caps);
    if !commits.is_empty() {
        out.push("\nEach changeset follows in an email of its own:\n");
    }
    for (index, commit) in commits.iter().enumerate() {
        if out.cut {
            break;
        }
        out.push(&format!(
            "  [{}/{}] {} {}\n",
            index + 1,
            commits.len(),
            commit.node,
            first_line(&commit.message, 200)
        ));
    }
    finish(out, push, caps, "changesets listed in their own emails")
}

/// The body of one changeset's own email (`per_commit`): who pushed it where, then the
/// changeset as the push's email shows it.
pub fn changeset_body(push: &Push, commit: &Commit, diff: bool, caps: Caps) -> String {
    let mut out = Text::new(caps.body_bytes);
    out.push(&format!(
        "{} pushed this changeset to {}/{} ({}).\n\n",
        one_line(&push.user, 100),
        push.repository.owner,
        push.repository.name,
        push.repository.website
    ));
    changeset(&mut out, push.repository.scm, commit, diff, caps);
    finish(out, push, caps, "the changeset is not shown in full")
}

/// Who pushed how many changesets where, the refs, what they discarded, and how many
/// changesets are left out.
fn opening(out: &mut Text, push: &Push, commits: &[Commit], caps: Caps) {
    let changesets = match push.total_commits {
        0 => "no new changesets".to_string(),
        1 => "1 new changeset".to_string(),
        n => format!("{n} new changesets"),
    };
    out.push(&format!(
        "{} pushed {changesets} to {}/{} ({}).\n\n",
        one_line(&push.user, 100),
        push.repository.owner,
        push.repository.name,
        push.repository.website
    ));
    for change in push.refs.iter().take(caps.refs) {
        if out.cut {
            break;
        }
        out.push(&format!("  {}\n", one_line(&describe_ref(change), 300)));
    }
    if push.refs.len() > caps.refs {
        let more = push.refs.len() - caps.refs;
        let noun = if more == 1 { "ref" } else { "refs" };
        out.push(&format!("  … and {} more {noun}\n", count(more)));
    }
    discarded(out, push, caps);
    let left_out = push.total_commits - commits.len();
    if left_out > 0 {
        out.push(&format!(
            "\n{left_out} older changesets are not listed; the newest {} follow.\n",
            commits.len()
        ));
    }
}

/// The text, with the cut notice (`note` says what the cut left out) and the signature.
fn finish(out: Text, push: &Push, caps: Caps, note: &str) -> String {
    let Text { mut text, cut, .. } = out;
    if cut {
        text.push_str(&format!(
            "\n… (email cut at {}; {note})\n",
            size(caps.body_bytes)
        ));
    }
    text.push_str(&format!(
        "\n-- \npushbroker {} for {}\n",
        env!("CARGO_PKG_VERSION"),
        push.repository.website
    ));
    text
}

/// What the forced updates and deletions among the listed refs took off their branches:
/// a deleted branch's old tip, a forced update's discarded changesets (git-multimail's
/// "discards"), one line each.
fn discarded(out: &mut Text, push: &Push, caps: Caps) {
    for change in push.refs.iter().take(caps.refs) {
        let Some(discarded) = &change.discarded else {
            continue;
        };
        if out.cut {
            return;
        }
        let name = one_line(&change.name, 200);
        let (heading, verb) = match (change.deleted, discarded.total) {
            (true, _) => (format!("Branch {name} was deleted; it pointed at:"), "was"),
            (false, 1) => (
                format!(
                    "This push discarded 1 changeset from branch {name} (it stays in the repository only while another ref reaches it):"
                ),
                "discards",
            ),
            (false, n) => (
                format!(
                    "This push discarded {} changesets from branch {name} (they stay in the repository only while another ref reaches them):",
                    count(n)
                ),
                "discards",
            ),
        };
        out.push(&format!("\n{heading}\n"));
        let older = discarded.total.saturating_sub(discarded.commits.len());
        if older > 0 {
            out.push(&format!("  … and {} older\n", count(older)));
        }
        for commit in &discarded.commits {
            out.push(&format!(
                "  {verb} {} {}\n",
                commit.node,
                one_line(&commit.summary, 200)
            ));
        }
    }
}

/// One ref change in words: `created tag v1.0 at 0123456789ab`.
pub fn describe_ref(change: &RefChange) -> String {
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

/// The part of `message` an email shows: all of it (less trailing blanks) when it fits
/// in `cap` bytes, else its start up to the last line break within the cap (or the cap
/// itself when there is none). The flag says whether it was cut.
pub fn shown_message(message: &str, cap: usize) -> (&str, bool) {
    if message.len() <= cap {
        return (message.trim_end(), false);
    }
    let start = head(message, cap);
    let start = start.rfind('\n').map_or(start, |end| &start[..end]);
    (start.trim_end(), true)
}

fn changeset(out: &mut Text, scm: Scm, commit: &Commit, diff: bool, caps: Caps) {
    let id = match (scm, commit.revision) {
        (Scm::Hg, Some(revision)) => format!("{revision}:{}", commit.node),
        _ => commit.node.clone(),
    };
    out.push(&format!("Changeset {id}\n"));
    out.push(&format!("Author: {}\n", one_line(&commit.raw_author, 300)));
    out.push(&format!(
        "Date:   {} ({} UTC)\n",
        commit.timestamp,
        commit
            .utctimestamp
            .get(..19)
            .unwrap_or(&commit.utctimestamp)
    ));
    if let Some(branch) = &commit.branch {
        out.push(&format!("Branch: {}\n", one_line(branch, 200)));
    }
    out.push(&format!("Link:   {}\n\n", commit.url));
    let (message, cut) = shown_message(&commit.message, caps.message_bytes);
    message_lines(out, message);
    if cut {
        out.push(&format!(
            "    … (message cut at {}; {} bytes in all)\n",
            size(caps.message_bytes),
            count(commit.message.len())
        ));
    }
    if !commit.files.is_empty() {
        out.push("\nFiles:\n");
        for file in commit.files.iter().take(caps.files) {
            if out.cut {
                return;
            }
            let mark = match file.kind {
                FileChangeKind::Added => "  A ",
                FileChangeKind::Modified => "  M ",
                FileChangeKind::Removed => "  R ",
            };
            out.push(mark);
            out.push(&file.file);
            out.push("\n");
        }
        if commit.files.len() > caps.files {
            let more = commit.files.len() - caps.files;
            let noun = if more == 1 { "file" } else { "files" };
            out.push(&format!("  … and {} more {noun}\n", count(more)));
        }
    }
    if diff && let Some(patch) = &commit.hidden.diff {
        out.push("\n");
        out.push(&patch.text);
        if patch.cut_lines > 0 {
            out.push(&format!(
                "[{} more diff lines not shown]\n",
                patch.cut_lines
            ));
        }
    }
}

/// The message indented by four spaces, a blank line for each blank one. Lines end at
/// `\n`, `\r\n` or a `\r` alone, so no line of the message starts unindented.
fn message_lines(out: &mut Text, message: &str) {
    if message.is_empty() {
        return;
    }
    for line in message.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        for line in line.split('\r') {
            if out.cut {
                return;
            }
            if line.trim().is_empty() {
                out.push("\n");
            } else {
                out.push("    ");
                out.push(line);
                out.push("\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_at_its_last_line_end_within_the_cap() {
        assert_eq!(shown_message("one\ntwo\n\n", 20), ("one\ntwo", false));
        assert_eq!(shown_message("one\ntwo\nthree\n", 10), ("one\ntwo", true));
        // No line end within the cap: cut at the cap, on a character.
        assert_eq!(shown_message("ééééé", 5), ("éé", true));
    }

    #[test]
    fn a_full_body_keeps_whole_lines_only_and_takes_nothing_more() {
        let mut text = Text::new(20);
        text.push("[1/2] ");
        text.push("Changeset\n");
        assert!(!text.cut);
        text.push("[2/2] Changeset\n");
        assert!(text.cut);
        text.push("more\n");
        assert_eq!(text.text, "[1/2] Changeset\n");
    }
}
