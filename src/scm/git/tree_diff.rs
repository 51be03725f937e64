//! The files a commit changed against its first parent: a walk of the two trees side by
//! side that never opens a subtree both sides share (same id), as git's own tree diff
//! does. libgit2's diff expands every subtree, which made a long push with wide
//! directories cost a millisecond per commit.

use std::cmp::Ordering;

use anyhow::{Context, Result};
use git2::{ObjectType, Oid, Repository, Tree, TreeEntry};

use crate::event::{FileChange, FileChangeKind};

/// Files added, modified and removed from `old` (None: the empty tree) to `new`, in
/// path order; a rename is a removal and an addition.
pub fn changed_files(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
) -> Result<Vec<FileChange>> {
    let mut files = Vec::new();
    diff_trees(repo, old, Some(new), &mut Vec::new(), &mut files)?;
    Ok(files)
}

fn diff_trees(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: Option<&Tree<'_>>,
    prefix: &mut Vec<u8>,
    files: &mut Vec<FileChange>,
) -> Result<()> {
    let mut old_entries = old.into_iter().flat_map(|tree| tree.iter()).peekable();
    let mut new_entries = new.into_iter().flat_map(|tree| tree.iter()).peekable();
    loop {
        let order = match (old_entries.peek(), new_entries.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => git_order(a, b),
        };
        match order {
            Ordering::Less => {
                let entry = old_entries.next().expect("peeked");
                one_side(repo, &entry, FileChangeKind::Removed, prefix, files)?;
            }
            Ordering::Greater => {
                let entry = new_entries.next().expect("peeked");
                one_side(repo, &entry, FileChangeKind::Added, prefix, files)?;
            }
            Ordering::Equal => {
                let (a, b) = (
                    old_entries.next().expect("peeked"),
                    new_entries.next().expect("peeked"),
                );
                if a.id() == b.id() && a.filemode() == b.filemode() {
                    continue; // the same file or the same whole subtree: nothing inside changed
                }
                if is_tree(&a) {
                    let (old_tree, new_tree) = (tree_of(repo, &a)?, tree_of(repo, &b)?);
                    descend(prefix, a.name_bytes(), |prefix| {
                        diff_trees(repo, Some(&old_tree), Some(&new_tree), prefix, files)
                    })?;
                } else {
                    files.push(change(prefix, b.name_bytes(), FileChangeKind::Modified));
                }
            }
        }
    }
}

/// An entry only one side has: a file, or every file under a subtree.
fn one_side(
    repo: &Repository,
    entry: &TreeEntry<'_>,
    kind: FileChangeKind,
    prefix: &mut Vec<u8>,
    files: &mut Vec<FileChange>,
) -> Result<()> {
    if !is_tree(entry) {
        files.push(change(prefix, entry.name_bytes(), kind));
        return Ok(());
    }
    let tree = tree_of(repo, entry)?;
    descend(prefix, entry.name_bytes(), |prefix| {
        let (old, new) = match kind {
            FileChangeKind::Removed => (Some(&tree), None),
            _ => (None, Some(&tree)),
        };
        diff_trees(repo, old, new, prefix, files)
    })
}

fn descend(
    prefix: &mut Vec<u8>,
    name: &[u8],
    walk: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let length = prefix.len();
    prefix.extend_from_slice(name);
    prefix.push(b'/');
    let result = walk(prefix);
    prefix.truncate(length);
    result
}

fn change(prefix: &[u8], name: &[u8], kind: FileChangeKind) -> FileChange {
    let mut path = prefix.to_vec();
    path.extend_from_slice(name);
    FileChange {
        file: String::from_utf8_lossy(&path).into_owned(),
        kind,
    }
}

fn is_tree(entry: &TreeEntry<'_>) -> bool {
    entry.kind() == Some(ObjectType::Tree)
}

fn tree_of<'r>(repo: &'r Repository, entry: &TreeEntry<'_>) -> Result<Tree<'r>> {
    let id: Oid = entry.id();
    repo.find_tree(id)
        .with_context(|| format!("reading tree {id}"))
}

/// Git's tree order: names compared bytewise, a subtree's name as if it ended in `/`.
fn git_order(a: &TreeEntry<'_>, b: &TreeEntry<'_>) -> Ordering {
    let key = |entry: &TreeEntry<'_>| {
        let name = entry.name_bytes();
        let slash: &[u8] = if is_tree(entry) { b"/" } else { b"" };
        name.iter().chain(slash).copied().collect::<Vec<u8>>()
    };
    let (a_name, b_name) = (a.name_bytes(), b.name_bytes());
    if a_name == b_name {
        // Same name: compared as one entry (a file turned directory sorts apart below).
        return if is_tree(a) == is_tree(b) {
            Ordering::Equal
        } else {
            key(a).cmp(&key(b))
        };
    }
    key(a).cmp(&key(b))
}
