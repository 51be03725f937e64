//! One Git commit as a payload changeset: author, dates, message, files, patch.

use anyhow::{Context, Result};
use git2::{Commit as GitCommit, Delta, Diff, DiffFormat, DiffOptions, Oid, Repository};

use crate::event::{Commit, Diff as PatchText, FileChange, FileChangeKind};
use crate::scm::{dates::payload_dates, short_id};
use crate::text::decode;

/// Reads `oid` into a changeset; `url` is filled in when the event is assembled.
pub fn read(
    repo: &Repository,
    oid: Oid,
    branch: Option<String>,
    diff_lines: Option<usize>,
) -> Result<Commit> {
    let commit = repo
        .find_commit(oid)
        .with_context(|| format!("reading commit {oid}"))?;
    // An unreadable encoding header is treated as absent: the bytes still decode.
    let encoding = commit.message_encoding().ok().flatten();
    let author = commit.author();
    let name = decode(author.name_bytes(), encoding);
    let email = decode(author.email_bytes(), encoding);
    let (timestamp, utctimestamp) =
        payload_dates(author.when().seconds(), author.when().offset_minutes());
    let diff = first_parent_diff(repo, &commit)?;
    let files = files_of(&diff);
    let patch = diff_lines.map(|cap| patch_of(&diff, cap)).transpose()?;
    let raw_node = oid.to_string();
    Ok(Commit {
        raw_author: format!("{name} <{email}>"),
        author: name,
        branch,
        files,
        message: decode(commit.message_bytes(), encoding),
        node: short_id(&raw_node),
        parents: commit
            .parent_ids()
            .map(|parent| short_id(&parent.to_string()))
            .collect(),
        raw_node,
        revision: None,
        size: -1,
        timestamp,
        utctimestamp,
        url: String::new(),
        diff: patch,
    })
}

/// The tree diff against the first parent (the empty tree for a root commit), without
/// rename detection: a rename is a removal and an addition, as in Bitbucket's payload.
fn first_parent_diff<'r>(repo: &'r Repository, commit: &GitCommit<'_>) -> Result<Diff<'r>> {
    let tree = commit.tree().context("reading the commit's tree")?;
    let parent_tree = match commit.parents().next() {
        Some(parent) => Some(parent.tree().context("reading the parent's tree")?),
        None => None,
    };
    let mut options = DiffOptions::new();
    options.include_typechange(true);
    repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))
        .with_context(|| format!("diffing commit {}", commit.id()))
}

fn files_of(diff: &Diff<'_>) -> Vec<FileChange> {
    diff.deltas()
        .filter_map(|delta| {
            let (kind, file) = match delta.status() {
                Delta::Added => (FileChangeKind::Added, delta.new_file()),
                Delta::Deleted => (FileChangeKind::Removed, delta.old_file()),
                Delta::Modified | Delta::Typechange => (FileChangeKind::Modified, delta.new_file()),
                _ => return None,
            };
            let path = file.path_bytes()?;
            Some(FileChange {
                file: String::from_utf8_lossy(path).into_owned(),
                kind,
            })
        })
        .collect()
}

/// The unified patch, at most `cap` lines; the rest is counted, not kept.
fn patch_of(diff: &Diff<'_>, cap: usize) -> Result<PatchText> {
    let mut patch = PatchText::default();
    let mut kept = 0;
    diff.print(DiffFormat::Patch, |_, _, line| {
        let content = String::from_utf8_lossy(line.content());
        // File headers come as one callback of several lines; count real lines.
        let lines = content.lines().count().max(1);
        if patch.cut_lines > 0 || kept + lines > cap {
            patch.cut_lines += lines;
            return true;
        }
        kept += lines;
        if matches!(line.origin(), '+' | '-' | ' ') {
            patch.text.push(line.origin());
        }
        patch.text.push_str(&content);
        if !patch.text.ends_with('\n') {
            patch.text.push('\n');
        }
        true
    })
    .context("printing the patch")?;
    Ok(patch)
}
