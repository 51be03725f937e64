//! The spool, `<state>/spool/`: one file per delivery that still has to be made.
//!
//! A file is written atomically (temporary file, fsync, rename; mode 0600) and holds
//! either one service's failed delivery (the whole event, the delivery id, the attempts
//! so far) or, when the config was invalid at push time, the raw push (its ref lines) to
//! build the event from once the config is fixed. No secret is ever written: the event
//! holds none, and errors are worded without them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Report;
use crate::event::{Hidden, Push, RefChange};

/// The spool format's version, written in every file.
pub const VERSION: u32 = 1;

/// One spooled item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Always [`VERSION`].
    pub version: u32,
    /// The delivery id (for a raw push: an id of its own, naming the file).
    pub id: String,
    /// When it was first spooled.
    pub created: String,
    /// What is spooled.
    #[serde(flatten)]
    pub item: Item,
}

/// What a spool file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Item {
    /// One service's delivery of a built event.
    Delivery {
        /// The service's name; `redeliver` sends through the service of that name.
        service: String,
        /// The broker's name when it was spooled.
        broker: String,
        /// For a per-ref delivery (GitHub format): the ref's index in the push.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ref_index: Option<usize>,
        /// Attempts made so far.
        attempts: u32,
        /// Why the last attempt failed.
        last_error: String,
        /// The event.
        push: Box<Push>,
        /// The changesets' data that is not part of the payload (patches, GitHub's
        /// fields), by full id.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        hidden: BTreeMap<String, Hidden>,
        /// The repository's default branch when it was spooled.
        #[serde(default)]
        default_branch: String,
    },
    /// A push whose event could not be built (the config was invalid, or the push could
    /// not be read).
    Raw {
        /// What rebuilds it: Git's hook input lines (`<old> <new> <ref>`), or one line
        /// for Mercurial, `hg <first node> <last node>`; none for bookmark moves alone
        /// (`refs` holds them).
        lines: Vec<String>,
        /// The pusher.
        user: String,
        /// When the push happened.
        pushed_at: String,
        /// Why it could not be delivered.
        last_error: String,
        /// Git: the push's new commits when it happened, oldest first; `redeliver`
        /// rebuilds from these, not from the refs as they are by then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commits: Option<Vec<String>>,
        /// Mercurial bookmark moves pushed alone: the repository keeps no trace of them
        /// to rebuild them from, so the moves themselves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refs: Option<Vec<RefChange>>,
    },
}

/// What rebuilds a push whose event could not be built (see [`Item::Raw`]).
#[derive(Debug, Default)]
pub struct RawPush {
    /// Git's hook input lines, or `hg <first node> <last node>`.
    pub lines: Vec<String>,
    /// Git: the new commits, when they could be walked.
    pub commits: Option<Vec<String>>,
    /// Mercurial: bookmark moves pushed alone.
    pub refs: Option<Vec<RefChange>>,
}

impl Entry {
    /// A failed delivery of `push`, as `report` tells it.
    pub fn delivery(report: &Report, push: &Push) -> Entry {
        let mut push = push.clone();
        let hidden = push
            .commits
            .iter_mut()
            .map(|commit| (commit.raw_node.clone(), std::mem::take(&mut commit.hidden)))
            .collect();
        Entry {
            version: VERSION,
            id: report.delivery.clone(),
            created: crate::scm::dates::now_rfc3339(),
            item: Item::Delivery {
                service: report.service.clone(),
                broker: report.broker.clone(),
                ref_index: report.ref_index,
                attempts: report.attempts,
                last_error: report.outcome.detail.clone(),
                default_branch: push.repository.default_branch.clone(),
                push: Box::new(push),
                hidden,
            },
        }
    }

    /// A push by `user`, just now, that could not be built because of `last_error`.
    pub fn raw(push: RawPush, user: &str, last_error: &str) -> Entry {
        let now = crate::scm::dates::now_rfc3339();
        Entry {
            version: VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            created: now.clone(),
            item: Item::Raw {
                lines: push.lines,
                user: user.to_string(),
                pushed_at: now,
                last_error: last_error.to_string(),
                commits: push.commits,
                refs: push.refs,
            },
        }
    }

    /// The service it is for, or `*` for a raw push (every service).
    pub fn service(&self) -> &str {
        match &self.item {
            Item::Delivery { service, .. } => service,
            Item::Raw { .. } => "*",
        }
    }

    /// Why it is spooled.
    pub fn last_error(&self) -> &str {
        match &self.item {
            Item::Delivery { last_error, .. } | Item::Raw { last_error, .. } => last_error,
        }
    }
}

/// Puts what the spool kept beside the payload back into the event: the changesets'
/// hidden data and the default branch.
pub fn restore_hidden(push: &mut Push, hidden: &BTreeMap<String, Hidden>, default_branch: &str) {
    for commit in &mut push.commits {
        commit.hidden = hidden.get(&commit.raw_node).cloned().unwrap_or_default();
    }
    // An entry spooled before the default branch was recorded has none.
    push.repository.default_branch = match default_branch {
        "" => push.repository.scm.usual_default_branch().to_string(),
        name => name.to_string(),
    };
}

/// A repository's spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool at `dir`.
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir }
    }

    /// The file of entry `id`.
    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes (or rewrites) an entry atomically.
    pub fn write(&self, entry: &Entry) -> Result<PathBuf> {
        crate::state::create_state_dir(&self.dir)?;
        let path = self.path(&entry.id);
        let bytes = serde_json::to_vec(entry).context("serializing the spool entry")?;
        crate::state::write_atomically(&path, &bytes)
            .with_context(|| format!("spooling delivery {}", entry.id))?;
        Ok(path)
    }

    /// Removes an entry once delivered.
    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(error).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Every entry, oldest first. A file that cannot be read is an error naming it,
    /// kept in place for the admin to look at.
    pub fn entries(&self) -> Result<Vec<Result<Entry>>> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(error).with_context(|| format!("listing {}", self.dir.display()));
            }
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        let mut entries: Vec<Result<Entry>> = paths.iter().map(|path| read(path)).collect();
        entries.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.created.cmp(&b.created),
            _ => std::cmp::Ordering::Equal,
        });
        Ok(entries)
    }

    /// The lock `redeliver` holds so that two runs never send the same entry twice.
    pub fn lock(&self) -> Result<fs::File> {
        super::log::lock_file(&self.dir.join(".lock"))
    }
}

fn read(path: &Path) -> Result<Entry> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a valid spool file", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_spooled_before_the_default_branch_was_kept_gets_its_scms_default() {
        for case in crate::verify::cases() {
            let mut push = case.push.clone();
            push.repository.default_branch = String::new();
            restore_hidden(&mut push, &BTreeMap::new(), "");
            let expected = push.repository.scm.usual_default_branch();
            assert_eq!(push.repository.default_branch, expected, "{}", case.name);
            restore_hidden(&mut push, &BTreeMap::new(), "trunk");
            assert_eq!(push.repository.default_branch, "trunk");
        }
    }
}
