//! The spool, `<state>/spool/`: one file per delivery that still has to be made.
//!
//! An entry's file name is its identity: a delivery id (a UUID), checked on every read,
//! never taken from a file's content. A file that is not a valid entry (see
//! [`Spool::entries`]) is reported and moved to `bad/` by `redeliver`, never acted on.
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
    /// A per-ref delivery keeps its own ref alone (as index 0).
    pub fn delivery(report: &Report, push: &Push) -> Entry {
        let (push, ref_index) = match report.ref_index.and_then(|index| push.for_ref(index)) {
            Some(trimmed) => (trimmed, Some(0)),
            None => (push.clone(), report.ref_index),
        };
        let hidden = hidden_of(&push);
        Entry {
            version: VERSION,
            id: report.delivery.clone(),
            created: crate::scm::dates::now_rfc3339(),
            item: Item::Delivery {
                service: report.service.clone(),
                broker: report.broker.clone(),
                ref_index,
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

/// The changesets' hidden data by full id, as the spool keeps it beside the event (the
/// event's serialization leaves it out).
pub fn hidden_of(push: &Push) -> BTreeMap<String, Hidden> {
    push.commits
        .iter()
        .chain(push.heads.values())
        .map(|commit| (commit.raw_node.clone(), commit.hidden.clone()))
        .collect()
}

/// Puts what the spool kept beside the payload back into the event: the changesets'
/// hidden data and the default branch.
pub fn restore_hidden(push: &mut Push, hidden: &BTreeMap<String, Hidden>, default_branch: &str) {
    for commit in push.commits.iter_mut().chain(push.heads.values_mut()) {
        commit.hidden = hidden.get(&commit.raw_node).cloned().unwrap_or_default();
    }
    // An entry spooled before the default branch was recorded has none.
    push.repository.default_branch = match default_branch {
        "" => push.repository.scm.usual_default_branch().to_string(),
        name => name.to_string(),
    };
}

/// Whether `name` is a delivery id as pushbroker makes them (a lowercase hyphenated
/// UUID): the only names of spool and journal files it reads, writes or removes.
pub fn is_id(name: &str) -> bool {
    uuid::Uuid::try_parse(name).is_ok_and(|uuid| uuid.hyphenated().to_string() == name)
}

/// A spool or journal file that is not what pushbroker writes: reported, never acted on.
#[derive(Debug, Clone)]
pub struct BadFile {
    /// The file, as listed in its directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for BadFile {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(out, "{}: {}", self.path.display(), self.problem)
    }
}

/// The spool's readable entries and the files that are not.
#[derive(Debug, Default)]
pub struct Listing {
    /// The valid entries, oldest first; each one's id is its file's name.
    pub entries: Vec<Entry>,
    /// The other `*.json` files.
    pub bad: Vec<BadFile>,
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

    /// The file of entry `id`: only ever a UUID's name inside the spool.
    fn path(&self, id: &str) -> Result<PathBuf> {
        anyhow::ensure!(is_id(id), "{:?} is not a delivery id", shown(id));
        Ok(self.dir.join(format!("{id}.json")))
    }

    /// `journal/`: the write-ahead journals of pushes being delivered.
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// `bad/`: files `redeliver` found malformed, kept for the admin.
    pub fn bad_dir(&self) -> PathBuf {
        self.dir.join("bad")
    }

    /// Writes (or rewrites) an entry atomically.
    pub fn write(&self, entry: &Entry) -> Result<PathBuf> {
        crate::state::create_state_dir(&self.dir)?;
        let path = self.path(&entry.id)?;
        let bytes = serde_json::to_vec(entry).context("serializing the spool entry")?;
        crate::state::write_atomically(&path, &bytes)
            .with_context(|| format!("spooling delivery {}", entry.id))?;
        Ok(path)
    }

    /// Removes an entry once delivered.
    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.path(id)?;
        match fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(error).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Every entry, oldest first, and every `*.json` file that is not a valid entry: a
    /// name that is not a delivery id, not a regular file, not JSON, an unknown version,
    /// an id that is not its file's name, a ref index out of range.
    pub fn entries(&self) -> Result<Listing> {
        let mut listing = Listing::default();
        for (path, file_type) in crate::state::list(&self.dir)? {
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') || file_type.is_dir() {
                continue;
            }
            match read_entry(&path, stem, file_type) {
                Ok(entry) => listing.entries.push(entry),
                Err(problem) => listing.bad.push(BadFile { path, problem }),
            }
        }
        listing
            .entries
            .sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(listing)
    }

    /// Moves a bad file into `bad/` (the name it was listed under, never one from its
    /// content), out of every later run's way.
    pub fn quarantine(&self, bad: &BadFile) -> Result<PathBuf> {
        let name = bad.path.file_name().context("a listed file has a name")?;
        let dir = self.bad_dir();
        crate::state::create_state_dir(&dir)?;
        let target = dir.join(name);
        fs::rename(&bad.path, &target)
            .with_context(|| format!("moving {} to {}", bad.path.display(), dir.display()))?;
        Ok(target)
    }

    /// The files kept in `bad/`, by name.
    pub fn bad_files(&self) -> Result<Vec<String>> {
        Ok(crate::state::list(&self.bad_dir())?
            .iter()
            .filter_map(|(path, _)| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect())
    }

    /// The lock `redeliver` holds so that two runs never send the same entry twice.
    pub fn lock(&self) -> Result<fs::File> {
        super::log::lock_file(&self.dir.join(".lock"))
    }
}

fn read_entry(path: &Path, stem: &str, file_type: fs::FileType) -> Result<Entry, String> {
    if !is_id(stem) {
        return Err("its name is not a delivery id (<uuid>.json)".into());
    }
    let bytes = crate::state::read_regular(path, file_type)?;
    let entry: Entry =
        serde_json::from_slice(&bytes).map_err(|error| format!("not a spool entry ({error})"))?;
    check(&entry, stem)?;
    Ok(entry)
}

/// Whether `entry`, read from the file named `name`, is one pushbroker could have written.
fn check(entry: &Entry, name: &str) -> Result<(), String> {
    if entry.version != VERSION {
        return Err(format!(
            "unknown spool version {} (this pushbroker reads {VERSION})",
            entry.version
        ));
    }
    if entry.id != name {
        return Err(format!(
            "its id {:?} is not its file name",
            shown(&entry.id)
        ));
    }
    if let Item::Delivery {
        ref_index: Some(index),
        push,
        ..
    } = &entry.item
        && *index >= push.refs.len()
    {
        return Err(format!(
            "ref_index {index} is out of range (the push has {} refs)",
            push.refs.len()
        ));
    }
    Ok(())
}

/// A value read from a file, fit for one line: escaped, at most 60 characters.
pub fn shown(text: &str) -> String {
    let escaped: String = text.escape_debug().collect();
    match escaped.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_ref_delivery_keeps_its_own_ref_alone() {
        let mut push = crate::verify::cases()
            .into_iter()
            .next()
            .expect("a case")
            .push;
        let mut other = push.refs[0].clone();
        other.name = "other".into();
        push.refs = vec![other.clone(), push.refs[0].clone(), other];
        let report = Report {
            service: "gh".into(),
            broker: "post".into(),
            delivery: uuid::Uuid::new_v4().to_string(),
            ref_index: Some(1),
            outcome: crate::broker::Outcome::retry("HTTP 503"),
            attempts: 1,
            log_error: None,
        };
        let Item::Delivery {
            push: kept,
            ref_index,
            ..
        } = Entry::delivery(&report, &push).item
        else {
            panic!("a delivery");
        };
        assert_eq!(ref_index, Some(0));
        assert_eq!(kept.refs.len(), 1);
        assert_eq!(kept.refs[0].name, push.refs[1].name);
        assert_eq!(kept.commits.len(), push.commits.len());
    }

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
