//! One Git commit as a payload changeset: author, dates, message and files.
//!
//! Commits and trees are read with gitoxide rather than libgit2: on a 10,000-commit push
//! libgit2 spent most of its time in its object cache and allocator, and one process-wide
//! lock on pack files kept a second thread from helping (see `bench/`). gitoxide reads
//! with a per-handle delta cache, so each thread of [`super::read`] gets its own.

use anyhow::{Context, Result};
use gix::ObjectId;
use gix::actor::SignatureRef;
use gix::objs::FindExt;

use super::read::Objects;
use crate::event::{Commit, Hidden};
use crate::scm::dates::{iso8601, payload_dates};
use crate::scm::short_id;
use crate::text::decode;

/// Reads commits one after another, remembering the last one's tree: in a run of
/// commits, oldest first, each one's parent is usually the one just read.
pub struct CommitReader {
    objects: Objects,
    data: Vec<u8>,
    last: Option<(ObjectId, ObjectId)>,
}

impl CommitReader {
    /// A reader over `objects` (a handle of its own: its delta cache is not shared).
    pub fn new(objects: Objects) -> CommitReader {
        CommitReader {
            objects,
            data: Vec::new(),
            last: None,
        }
    }

    /// Reads `id` into a changeset; `url` is filled in when the event is assembled, the
    /// patch by [`super::patch`] when a service wants one.
    pub fn read(&mut self, id: ObjectId, branch: Option<String>) -> Result<Commit> {
        let commit = self
            .objects
            .odb
            .find_commit(&id, &mut self.data)
            .with_context(|| format!("reading commit {id}"))?;
        // An unreadable encoding header is treated as absent: the bytes still decode.
        let encoding = commit
            .encoding
            .and_then(|name| std::str::from_utf8(name).ok());
        let author = signature(commit.author().ok(), encoding);
        let committer = signature(commit.committer().ok(), encoding);
        let message = decode(commit.message, encoding);
        let tree = commit.tree();
        let parents: Vec<ObjectId> = match self.objects.shallow.contains(&id) {
            true => Vec::new(),
            false => commit.parents().collect(),
        };
        drop(commit); // its buffer is reused for the parent

        let parent_tree = match parents.first() {
            None => None,
            Some(parent) => Some(match self.last {
                Some((last, tree)) if last == *parent => tree,
                _ => self
                    .objects
                    .odb
                    .find_commit(parent, &mut self.data)
                    .with_context(|| format!("reading commit {parent}, parent of {id}"))?
                    .tree(),
            }),
        };
        self.last = Some((id, tree));
        let files = super::tree_diff::changed_files(&self.objects.odb, parent_tree, tree)
            .with_context(|| format!("listing the files of commit {id}"))?;

        let raw_node = id.to_string();
        let (timestamp, utctimestamp) = payload_dates(author.seconds, author.offset_minutes);
        Ok(Commit {
            raw_author: format!("{} <{}>", author.name, author.email),
            author: author.name,
            branch,
            files,
            message,
            node: short_id(&raw_node),
            parents: parents
                .iter()
                .map(|parent| short_id(&parent.to_string()))
                .collect(),
            raw_node,
            revision: None,
            size: -1,
            timestamp,
            utctimestamp,
            url: String::new(),
            hidden: Hidden {
                diff: None,
                tree_id: tree.to_string(),
                author_email: author.email,
                author_date: iso8601(author.seconds, author.offset_minutes),
                committer_name: committer.name,
                committer_email: committer.email,
                committer_date: iso8601(committer.seconds, committer.offset_minutes),
            },
        })
    }
}

/// An author or committer line, decoded.
struct Person {
    name: String,
    email: String,
    seconds: i64,
    offset_minutes: i32,
}

/// Decodes a signature; a missing or malformed one (git accepts such commits) becomes
/// an empty name at the epoch rather than losing the push.
fn signature(parsed: Option<SignatureRef<'_>>, encoding: Option<&str>) -> Person {
    let Some(signature) = parsed else {
        return Person {
            name: String::new(),
            email: String::new(),
            seconds: 0,
            offset_minutes: 0,
        };
    };
    let signature = signature.trim();
    let time = signature.time().unwrap_or_default();
    Person {
        name: decode(signature.name, encoding),
        email: decode(signature.email, encoding),
        seconds: time.seconds,
        offset_minutes: time.offset / 60,
    }
}
