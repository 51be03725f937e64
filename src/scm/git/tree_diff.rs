//! The files a commit changed against its first parent: a walk of the two trees side by
//! side that never opens a subtree both sides share (same id), as git's own tree diff
//! does. (libgit2's diff expands every subtree, which made a long push with wide
//! directories cost a millisecond per commit.) Unlike git's, it does not decode the
//! entries at the start and end of the two trees that are the same bytes ([`shared`]).

use std::cmp::Ordering;

use anyhow::{Context, Result};
use gix::objs::Kind;
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
        let read = |id: Option<&oid>, data| match id {
            Some(id) => super::parse::object_bytes(odb, id, Kind::Tree, data),
            None => Ok(&[][..]),
        };
        let (old_bytes, new_bytes) = (read(old, old_data)?, read(new, new_data)?);
        let (start, suffix) = shared(old_bytes, new_bytes);
        let mut a = Entries::of(old, &old_bytes[start..])?;
        let mut b = Entries::of(new, &new_bytes[start..])?;
        loop {
            if a.remaining == b.remaining && a.remaining <= suffix {
                return Ok(()); // what is left is the same bytes, so the same entries
            }
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

/// What two trees' bytes share: where the first entry that differs starts (the same
/// offset in both: every entry before it is the same bytes), and how many bytes at the
/// end are the same. A commit changes a few entries of the trees it touches; the rest
/// are skipped without being decoded, as git's own diff decodes them all.
fn shared(old: &[u8], new: &[u8]) -> (usize, usize) {
    const ID: usize = 20;
    let prefix = same_bytes(old.chunks_exact(16), new.chunks_exact(16));
    let prefix = prefix
        + old[prefix..]
            .iter()
            .zip(&new[prefix..])
            .take_while(|(a, b)| a == b)
            .count();
    // Whole entries (`<mode> <name>\0<id>`) within the shared bytes.
    let mut start = 0;
    while let Some(nul) = old[start..prefix].iter().position(|&b| b == 0) {
        match start + nul + 1 + ID {
            end if end <= prefix => start = end,
            _ => break,
        }
    }
    let suffix = same_bytes(old.rchunks_exact(16), new.rchunks_exact(16));
    let (old_rest, new_rest) = (&old[..old.len() - suffix], &new[..new.len() - suffix]);
    let suffix = suffix
        + old_rest
            .iter()
            .rev()
            .zip(new_rest.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
    (start, suffix)
}

/// How many bytes of equal 16-byte chunks two sequences of chunks start with.
fn same_bytes<'a>(
    old: impl Iterator<Item = &'a [u8]>,
    new: impl Iterator<Item = &'a [u8]>,
) -> usize {
    let word = |chunk: &[u8]| u128::from_ne_bytes(chunk.try_into().expect("16 bytes"));
    old.zip(new).take_while(|(a, b)| word(a) == word(b)).count() * 16
}

/// A tree's entries, decoded one at a time as the walk moves on (most are skipped).
struct Entries<'a> {
    data: &'a [u8],
    rest: TreeRefIter<'a>,
    next: Option<EntryRef<'a>>,
    /// The bytes from the start of `next` to the end.
    remaining: usize,
    id: Option<&'a oid>,
}

impl<'a> Entries<'a> {
    /// The entries in `data`, part of tree `id`'s bytes (`None`: the empty tree).
    fn of(id: Option<&'a oid>, data: &'a [u8]) -> Result<Self> {
        let mut rest = TreeRefIter::from_bytes(data, gix::hash::Kind::Sha1);
        let next = rest.next().transpose().with_context(|| corrupt(id))?;
        Ok(Entries {
            data,
            rest,
            next,
            remaining: data.len(),
            id,
        })
    }

    fn peek(&self) -> Option<&EntryRef<'a>> {
        self.next.as_ref()
    }

    /// The peeked entry (there must be one); reads the one after it.
    fn advance(&mut self) -> Result<EntryRef<'a>> {
        self.remaining = self.data.len() - self.rest.offset_to_next_entry(self.data);
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

#[cfg(test)]
mod tests {
    use super::shared;

    /// A tree's bytes: `(name, id byte)` entries, each id twenty of that byte.
    fn tree(entries: &[(&str, u8)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (name, id) in entries {
            bytes.extend_from_slice(format!("100644 {name}\0").as_bytes());
            bytes.extend_from_slice(&[*id; 20]);
        }
        bytes
    }

    #[test]
    fn only_whole_entries_both_trees_hold_are_skipped() {
        let old = tree(&[("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]);
        // c's id changed in its last byte: the shared bytes end inside c's entry.
        let mut new = old.clone();
        let c_end = 3 * 29;
        new[c_end - 1] = 9;
        assert_eq!(shared(&old, &new), (2 * 29, 2 * 29));
        // An id of zero bytes (a NUL inside an id) is still skipped whole.
        let old = tree(&[("a", 0), ("b", 0), ("c", 3)]);
        let new = tree(&[("a", 0), ("b", 0), ("cc", 3)]);
        assert_eq!(shared(&old, &new), (2 * 29, 22));
        // The same tree: all of it, both ways.
        assert_eq!(shared(&old, &old), (old.len(), old.len()));
        // A tree against the empty tree shares nothing.
        assert_eq!(shared(&old, &[]), (0, 0));
        // A name that grows: the shared bytes run into it, and it is not skipped.
        let old = tree(&[("file", 1), ("z", 2)]);
        let new = tree(&[("file2", 1), ("z", 2)]);
        assert_eq!(shared(&old, &new).0, 0);
    }
}
