//! The files a commit changed against its first parent: a walk of the two trees side by
//! side that never opens a subtree both sides share (same id), as git's own tree diff
//! does. (libgit2's diff expands every subtree, which made a long push with wide
//! directories cost a millisecond per commit.)

use std::cmp::Ordering;

use anyhow::{Context, Result};
use gix::objs::FindExt;
use gix::objs::tree::EntryRef;
use gix::{ObjectId, oid};

use crate::event::{FileChange, FileChangeKind};

/// Files added, modified and removed from `old` (None: the empty tree) to `new`, in
/// path order; a rename is a removal and an addition.
pub fn changed_files(
    odb: &gix::odb::Handle,
    old: Option<ObjectId>,
    new: ObjectId,
) -> Result<Vec<FileChange>> {
    let mut files = Vec::new();
    diff_trees(odb, old.as_deref(), Some(&new), &mut Vec::new(), &mut files)?;
    Ok(files)
}

fn diff_trees(
    odb: &gix::odb::Handle,
    old: Option<&oid>,
    new: Option<&oid>,
    prefix: &mut Vec<u8>,
    files: &mut Vec<FileChange>,
) -> Result<()> {
    let (mut old_data, mut new_data) = (Vec::new(), Vec::new());
    let old_entries = entries(odb, old, &mut old_data)?;
    let new_entries = entries(odb, new, &mut new_data)?;
    let (mut a, mut b) = (old_entries.iter().peekable(), new_entries.iter().peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            // Git's tree order: a subtree's name compares as if it ended in `/`.
            (Some(a), Some(b)) => a.cmp(b),
        };
        match order {
            Ordering::Less => {
                let entry = a.next().expect("peeked");
                one_side(odb, entry, FileChangeKind::Removed, prefix, files)?;
            }
            Ordering::Greater => {
                let entry = b.next().expect("peeked");
                one_side(odb, entry, FileChangeKind::Added, prefix, files)?;
            }
            Ordering::Equal => {
                let (old, new) = (a.next().expect("peeked"), b.next().expect("peeked"));
                if old.oid == new.oid && old.mode.kind() == new.mode.kind() {
                    continue; // the same file or the same whole subtree: nothing inside changed
                }
                if new.mode.is_tree() {
                    descend(prefix, new.filename, |prefix| {
                        diff_trees(odb, Some(old.oid), Some(new.oid), prefix, files)
                    })?;
                } else {
                    files.push(change(prefix, new.filename, FileChangeKind::Modified));
                }
            }
        }
    }
}

/// The entries of tree `id` (none for `None`), decoded out of `data`.
fn entries<'a>(
    odb: &gix::odb::Handle,
    id: Option<&oid>,
    data: &'a mut Vec<u8>,
) -> Result<Vec<EntryRef<'a>>> {
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    let tree = odb
        .find_tree(id, data)
        .with_context(|| format!("reading tree {id}"))?;
    Ok(tree.entries)
}

/// An entry only one side has: a file, or every file under a subtree.
fn one_side(
    odb: &gix::odb::Handle,
    entry: &EntryRef<'_>,
    kind: FileChangeKind,
    prefix: &mut Vec<u8>,
    files: &mut Vec<FileChange>,
) -> Result<()> {
    if !entry.mode.is_tree() {
        files.push(change(prefix, entry.filename, kind));
        return Ok(());
    }
    descend(prefix, entry.filename, |prefix| {
        let (old, new) = match kind {
            FileChangeKind::Removed => (Some(entry.oid), None),
            _ => (None, Some(entry.oid)),
        };
        diff_trees(odb, old, new, prefix, files)
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
