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

/// Tree buffers kept from one diff to the next: a diff reads two trees per directory
/// level it enters, and a push reads thousands.
#[derive(Default)]
pub struct Buffers(Vec<Vec<u8>>);

/// Files added, modified and removed from `old` (None: the empty tree) to `new`, in
/// path order; a rename is a removal and an addition.
pub fn changed_files(
    odb: &gix::odb::Handle,
    old: Option<ObjectId>,
    new: ObjectId,
    buffers: &mut Buffers,
) -> Result<Vec<FileChange>> {
    let mut files = Vec::new();
    let mut walk = Walk {
        odb,
        prefix: Vec::new(),
        files: &mut files,
        buffers,
    };
    walk.trees(old.as_deref(), Some(&new))?;
    Ok(files)
}

/// One diff under way.
struct Walk<'a> {
    odb: &'a gix::odb::Handle,
    prefix: Vec<u8>,
    files: &'a mut Vec<FileChange>,
    buffers: &'a mut Buffers,
}

impl Walk<'_> {
    fn trees(&mut self, old: Option<&oid>, new: Option<&oid>) -> Result<()> {
        let mut old_data = self.buffers.0.pop().unwrap_or_default();
        let mut new_data = self.buffers.0.pop().unwrap_or_default();
        let result = self.entries(old, new, &mut old_data, &mut new_data);
        self.buffers.0.push(old_data);
        self.buffers.0.push(new_data);
        result
    }

    fn entries(
        &mut self,
        old: Option<&oid>,
        new: Option<&oid>,
        old_data: &mut Vec<u8>,
        new_data: &mut Vec<u8>,
    ) -> Result<()> {
        let odb = self.odb;
        let mut a = Entries::of(odb, old, old_data)?;
        let mut b = Entries::of(odb, new, new_data)?;
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
                    self.one_side(&entry, FileChangeKind::Removed)?;
                }
                Ordering::Greater => {
                    let entry = b.advance()?;
                    self.one_side(&entry, FileChangeKind::Added)?;
                }
                Ordering::Equal => {
                    let (old, new) = (a.advance()?, b.advance()?);
                    if old.oid == new.oid && old.mode.kind() == new.mode.kind() {
                        continue; // the same file or the same whole subtree: nothing inside changed
                    }
                    if new.mode.is_tree() {
                        self.descend(new.filename, |walk| {
                            walk.trees(Some(old.oid), Some(new.oid))
                        })?;
                    } else {
                        self.change(new.filename, FileChangeKind::Modified);
                    }
                }
            }
        }
    }

    /// An entry only one side has: a file, or every file under a subtree.
    fn one_side(&mut self, entry: &EntryRef<'_>, kind: FileChangeKind) -> Result<()> {
        if !entry.mode.is_tree() {
            self.change(entry.filename, kind);
            return Ok(());
        }
        let (old, new) = match kind {
            FileChangeKind::Removed => (Some(entry.oid), None),
            _ => (None, Some(entry.oid)),
        };
        self.descend(entry.filename, |walk| walk.trees(old, new))
    }

    fn descend(&mut self, name: &[u8], walk: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let length = self.prefix.len();
        self.prefix.extend_from_slice(name);
        self.prefix.push(b'/');
        let result = walk(self);
        self.prefix.truncate(length);
        result
    }

    fn change(&mut self, name: &[u8], kind: FileChangeKind) {
        let mut path = Vec::with_capacity(self.prefix.len() + name.len());
        path.extend_from_slice(&self.prefix);
        path.extend_from_slice(name);
        let file = match String::from_utf8(path) {
            Ok(file) => file,
            Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
        };
        self.files.push(FileChange { file, kind });
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
