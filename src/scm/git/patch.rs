//! A commit's patch text against its first parent, for services that show diffs.
//! libgit2 writes it from the two trees (which [`super::parse`] finds: libgit2 would
//! parse the commits, and refuses some that git shows); only the kept commits of such a
//! service's push pay for it.

use anyhow::{Context, Result};
use git2::{DiffFormat, DiffOptions, Oid, Repository};
use gix::ObjectId;

use super::parse;
use super::read::Objects;
use crate::event::Diff as PatchText;
use crate::text::one_line;

/// The unified patch of `id` against its first parent (the empty tree for a root
/// commit, or a shallow repository's cut commit), without rename detection, at most
/// `cap` lines; the rest is counted. When it cannot be made, one line says why.
pub fn patch(repo: &Repository, objects: &Objects, id: ObjectId, cap: usize) -> PatchText {
    build(repo, objects, id, cap).unwrap_or_else(|error| PatchText {
        text: format!("(no diff: {})\n", one_line(&format!("{error:#}"), 300)),
        cut_lines: 0,
    })
}

/// The tree of commit `id`.
fn tree_of(objects: &Objects, id: &ObjectId) -> Result<(Oid, Option<ObjectId>)> {
    let mut buffer = Vec::new();
    let raw = parse::commit(parse::commit_bytes(&objects.odb, id, &mut buffer)?);
    let tree = raw
        .tree
        .with_context(|| format!("commit {id} names no tree"))?;
    let parent = match objects.shallow.contains(id) {
        true => None,
        false => raw.parents.first().copied(),
    };
    Ok((to_oid(tree), parent))
}

fn to_oid(id: ObjectId) -> Oid {
    Oid::from_bytes(id.as_bytes()).expect("a SHA-1 from gitoxide is 20 bytes")
}

fn build(repo: &Repository, objects: &Objects, id: ObjectId, cap: usize) -> Result<PatchText> {
    let (tree, parent) = tree_of(objects, &id)?;
    let tree = repo.find_tree(tree).context("reading the commit's tree")?;
    let parent_tree = match parent {
        Some(parent) => {
            let (parent_tree, _) = tree_of(objects, &parent)?;
            Some(
                repo.find_tree(parent_tree)
                    .context("reading the parent's tree")?,
            )
        }
        None => None,
    };
    let mut options = DiffOptions::new();
    options.include_typechange(true);
    let diff = repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))
        .with_context(|| format!("diffing commit {id}"))?;
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
    .with_context(|| format!("printing the patch of {id}"))?;
    Ok(patch)
}
