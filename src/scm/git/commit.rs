//! One Git commit as a payload changeset: author, dates, message and files.
//!
//! Commits and trees are read with gitoxide rather than libgit2: on a 10,000-commit push
//! libgit2 spent most of its time in its object cache and allocator, and one process-wide
//! lock on pack files kept a second thread from helping (see `bench/`). gitoxide reads
//! with a per-handle delta cache, so each thread of [`super::read`] gets its own. The
//! commit's headers are read by [`super::parse`], which refuses nothing git shows; a
//! commit that still cannot be read is listed marked unreadable ([`unreadable`]).

use anyhow::{Context, Result};
use gix::ObjectId;

use super::hex;
use super::parse::{self, Person};
use super::read::Objects;
use super::walk::KnownCommit;
use crate::event::{Commit, Hidden};
use crate::scm::dates::Date;
use crate::scm::short_id;
use crate::text::{decode, one_line};

/// Reads commits one after another, remembering the last one's tree: in a run of
/// commits, oldest first, each one's parent is usually the one just read.
pub struct CommitReader {
    objects: Objects,
    data: Vec<u8>,
    last: Option<(ObjectId, ObjectId)>,
    trees: super::tree_diff::Buffers,
}

impl CommitReader {
    /// A reader over `objects` (a handle of its own: its delta cache is not shared).
    pub fn new(objects: Objects) -> CommitReader {
        CommitReader {
            objects,
            data: Vec::new(),
            last: None,
            trees: super::tree_diff::Buffers::default(),
        }
    }

    /// Reads `id` into a changeset, or, when it cannot be read, the changeset that says
    /// so ([`unreadable`]). `url` is filled in when the event is assembled, the patch by
    /// [`super::patch`] when a service wants one.
    pub fn read_or_mark(&mut self, id: ObjectId, branch: Option<String>) -> Commit {
        self.read_or_mark_known(id, branch, None)
    }

    /// As [`CommitReader::read_or_mark`], with what the walk read of the commit.
    pub fn read_or_mark_known(
        &mut self,
        id: ObjectId,
        branch: Option<String>,
        known: Option<(&[u8], &KnownCommit)>,
    ) -> Commit {
        match self.read(id, branch.clone(), known) {
            Ok(commit) => commit,
            Err(error) => {
                self.last = None;
                unreadable(id, branch, &format!("{error:#}"))
            }
        }
    }

    /// Reads `id` into a changeset; from its bytes and first parent when the walk read
    /// them (`known`).
    fn read(
        &mut self,
        id: ObjectId,
        branch: Option<String>,
        known: Option<(&[u8], &KnownCommit)>,
    ) -> Result<Commit> {
        let bytes = match known {
            Some((bytes, _)) => bytes,
            None => parse::commit_bytes(&self.objects.odb, &id, &mut self.data)?,
        };
        let raw = parse::commit(bytes);
        let encoding = raw.encoding;
        let person = |line: Option<&[u8]>| match line {
            Some(line) => parse::person(line, encoding),
            None => Person::missing(),
        };
        let author = person(raw.author);
        let committer = person(raw.committer);
        let raw_author = match raw.author {
            Some(_) => format!("{} <{}>", author.name, author.email),
            None => String::new(),
        };
        let message = decode(raw.message, encoding);
        let tree = raw
            .tree
            .with_context(|| format!("commit {id} names no tree"))?;
        let parents: Vec<ObjectId> = match self.objects.shallow.contains(&id) {
            true => Vec::new(),
            false => raw.parents,
        };

        // Its files need its parent's tree too: when they cannot be listed, the rest of
        // the changeset is still delivered, marked.
        // The walk read the first parent's tree when it read the same first parent.
        let parent_tree = known
            .and_then(|(_, known)| known.first_parent)
            .filter(|(parent, _)| parents.first() == Some(parent))
            .map(|(_, tree)| tree);
        let (files, unreadable) = match self.files(id, tree, parents.first(), parent_tree) {
            Ok(files) => (files, None),
            Err(error) => (
                Vec::new(),
                Some(one_line(&format!("cannot list its files: {error:#}"), 300)),
            ),
        };

        let raw_node = hex(&id);
        let (timestamp, utctimestamp) = author.date.payload();
        Ok(Commit {
            raw_author,
            author: author.name,
            branch,
            files,
            message,
            node: short_id(&raw_node),
            parents: parents
                .iter()
                .map(|parent| short_id(&hex(parent)))
                .collect(),
            raw_node,
            revision: None,
            size: -1,
            timestamp,
            utctimestamp,
            url: String::new(),
            unreadable,
            hidden: Hidden {
                diff: None,
                tree_id: hex(&tree),
                author_email: author.email,
                author_date: author.date.iso8601(),
                committer_name: committer.name,
                committer_email: committer.email,
                committer_date: committer.date.iso8601(),
            },
        })
    }
}

impl CommitReader {
    /// The files commit `id` (of tree `tree`) changed against its first parent.
    fn files(
        &mut self,
        id: ObjectId,
        tree: ObjectId,
        parent: Option<&ObjectId>,
        parent_tree: Option<ObjectId>,
    ) -> Result<Vec<crate::event::FileChange>> {
        let parent_tree = match (parent, parent_tree) {
            (None, _) => None,
            (Some(_), Some(known)) => Some(known),
            (Some(parent), None) => Some(match self.last {
                Some((last, tree)) if last == *parent => tree,
                _ => {
                    let bytes = parse::commit_bytes(&self.objects.odb, parent, &mut self.data)
                        .with_context(|| format!("reading {parent}, its parent"))?;
                    parse::commit(bytes)
                        .tree
                        .with_context(|| format!("its parent {parent} names no tree"))?
                }
            }),
        };
        self.last = None;
        let files =
            super::tree_diff::changed_files(&self.objects.odb, parent_tree, tree, &mut self.trees)?;
        self.last = Some((id, tree));
        Ok(files)
    }
}

/// The changeset of a commit that cannot be read, so that the push is still delivered:
/// its id and branch, `unreadable` set to why, the message `(unreadable commit: why)`,
/// and nothing else (no author, no date, no parents, no files).
pub fn unreadable(id: ObjectId, branch: Option<String>, reason: &str) -> Commit {
    let reason = one_line(reason, 300);
    let raw_node = id.to_string();
    let (timestamp, utctimestamp) = Date::Missing.payload();
    Commit {
        author: String::new(),
        branch,
        files: Vec::new(),
        message: format!("(unreadable commit: {reason})"),
        node: short_id(&raw_node),
        parents: Vec::new(),
        raw_author: String::new(),
        raw_node,
        revision: None,
        size: -1,
        timestamp,
        utctimestamp,
        url: String::new(),
        unreadable: Some(reason),
        hidden: Hidden {
            author_date: Date::Missing.iso8601(),
            committer_date: Date::Missing.iso8601(),
            ..Hidden::default()
        },
    }
}
