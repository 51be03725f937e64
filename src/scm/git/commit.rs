//! One Git commit as a payload changeset: author, dates, message, files, patch.

use anyhow::{Context, Result};
use git2::{Diff, DiffFormat, DiffOptions, Oid, Repository, Tree};

use crate::event::{Commit, Diff as PatchText, Hidden};
use crate::scm::dates::{iso8601, payload_dates};
use crate::scm::short_id;
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
    let committer = commit.committer();
    let name = decode(author.name_bytes(), encoding);
    let email = decode(author.email_bytes(), encoding);
    let (timestamp, utctimestamp) =
        payload_dates(author.when().seconds(), author.when().offset_minutes());
    let tree = commit.tree().context("reading the commit's tree")?;
    let parent_tree = match commit.parents().next() {
        Some(parent) => Some(parent.tree().context("reading the parent's tree")?),
        None => None,
    };
    let files = super::tree_diff::changed_files(repo, parent_tree.as_ref(), &tree)
        .with_context(|| format!("listing the files of commit {oid}"))?;
    // The patch text is libgit2's job, and only wanted when a service shows diffs.
    let patch = match diff_lines {
        Some(cap) => Some(patch_of(
            &first_parent_diff(repo, parent_tree.as_ref(), &tree, oid)?,
            cap,
        )?),
        None => None,
    };
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
        hidden: Hidden {
            diff: patch,
            tree_id: commit.tree_id().to_string(),
            author_email: email,
            author_date: iso8601(author.when().seconds(), author.when().offset_minutes()),
            committer_name: decode(committer.name_bytes(), encoding),
            committer_email: decode(committer.email_bytes(), encoding),
            committer_date: iso8601(
                committer.when().seconds(),
                committer.when().offset_minutes(),
            ),
        },
    })
}

/// The tree diff against the first parent (the empty tree for a root commit), without
/// rename detection, for the patch text.
fn first_parent_diff<'r>(
    repo: &'r Repository,
    parent: Option<&Tree<'_>>,
    tree: &Tree<'_>,
    oid: Oid,
) -> Result<Diff<'r>> {
    let mut options = DiffOptions::new();
    options.include_typechange(true);
    repo.diff_tree_to_tree(parent, Some(tree), Some(&mut options))
        .with_context(|| format!("diffing commit {oid}"))
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
