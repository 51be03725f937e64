//! A commit's patch text against its first parent, for services that show diffs.
//! libgit2 writes it; only the kept commits of such a service's push pay for it.

use anyhow::{Context, Result};
use git2::{DiffFormat, DiffOptions, Oid, Repository};

use crate::event::Diff as PatchText;

/// The unified patch of `oid` against its first parent (the empty tree for a root
/// commit), without rename detection, at most `cap` lines; the rest is counted.
pub fn patch(repo: &Repository, oid: Oid, cap: usize) -> Result<PatchText> {
    let commit = repo
        .find_commit(oid)
        .with_context(|| format!("reading commit {oid}"))?;
    let tree = commit.tree().context("reading the commit's tree")?;
    let parent_tree = match commit.parents().next() {
        Some(parent) => Some(parent.tree().context("reading the parent's tree")?),
        None => None,
    };
    let mut options = DiffOptions::new();
    options.include_typechange(true);
    let diff = repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))
        .with_context(|| format!("diffing commit {oid}"))?;
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
    .with_context(|| format!("printing the patch of {oid}"))?;
    Ok(patch)
}
