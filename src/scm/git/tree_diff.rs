//! The files a commit changed against its first parent: a walk of the two trees side by
//! side that never opens a subtree both sides share (same id), as git's own tree diff
//! does. (libgit2's diff expands every subtree, which made a long push with wide
//! directories cost a millisecond per commit.)

use std::cmp::Ordering;

use anyhow::{Context, Result};
use gix::objs::FindExt;
use gix::objs::TreeRefIter;
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
    let mut a = Entries::of(odb, old, &mut old_data)?;
    let mut b = Entries::of(odb, new, &mut new_data)?;
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
                let entry = a.advance()?;
                one_side(odb, &entry, FileChangeKind::Removed, prefix, files)?;
            }
            Ordering::Greater => {
                let entry = b.advance()?;
                one_side(odb, &entry, FileChangeKind::Added, prefix, files)?;
            }
            Ordering::Equal => {
                let (old, new) = (a.advance()?, b.advance()?);
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

/// A tree's entries, decoded one at a time as the walk moves on (most are skipped).
struct Entries<'a> {
    rest: TreeRefIter<'a>,
    next: Option<EntryRef<'a>>,
    id: Option<&'a oid>,
}

impl<'a> Entries<'a> {
    /// The entries of tree `id` (none for `None`), read into `data`.
    fn of(odb: &gix::odb::Handle, id: Option<&'a oid>, data: &'a mut Vec<u8>) -> Result<Self> {
        let mut rest = match id {
            Some(id) => odb
                .find_tree_iter(id, data)
                .with_context(|| format!("reading tree {id}"))?,
            None => TreeRefIter::from_bytes(&[], gix::hash::Kind::Sha1),
        };
        let next = rest.next().transpose().with_context(|| corrupt(id))?;
        Ok(Entries { rest, next, id })
    }

    fn peek(&self) -> Option<&EntryRef<'a>> {
        self.next.as_ref()
    }

    /// The peeked entry (there must be one); reads the one after it.
    fn advance(&mut self) -> Result<EntryRef<'a>> {
        let following = self
            .rest
            .next()
            .transpose()
            .with_context(|| corrupt(self.id))?;
        Ok(std::mem::replace(&mut self.next, following).expect("advance() after peek()"))
    }
}

fn corrupt(id: Option<&oid>) -> String {
    match id {
        Some(id) => format!("decoding tree {id}"),
        None => "decoding the empty tree".to_string(),
    }
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
