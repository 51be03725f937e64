//! Mercurial: the changesets the shim (`hooks/pushbroker_hg.py`) gathers, to changes.
//!
//! One code path gathers hg data: the shim's `gather()`. The hook runs it inside hg's own
//! process (no second `hg` start); `payload --rev`, `test` and `redeliver` run the same
//! function through `hg pushbroker-gather`, the command the shim defines when loaded as
//! an extension.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::dates::{iso8601, payload_dates};
use super::{Changes, Limits, short_id};
use crate::event::{Commit, Diff, FileChange, Hidden, RefChange, RefKind};
use crate::state::StateDir;

/// The shim, embedded so that the binary always installs the one it speaks with.
pub const SHIM: &str = include_str!("../../hooks/pushbroker_hg.py");

/// What `gather()` returns.
#[derive(Debug, Deserialize)]
pub struct Gathered {
    /// The true number of changesets.
    pub total: usize,
    /// The newest `max_commits` of them, oldest first.
    pub changesets: Vec<Changeset>,
    /// Named branches that received changesets, bookmarks that moved.
    pub refs: Vec<GatheredRef>,
    /// With `heads` asked for: the changeset a ref now points to, by ref, when it is
    /// not among `changesets` (an older shim sends none).
    #[serde(default)]
    pub heads: std::collections::BTreeMap<String, Changeset>,
}

/// One changeset as the shim reads it.
#[derive(Debug, Deserialize)]
pub struct Changeset {
    node: String,
    rev: u64,
    parents: Vec<String>,
    user: String,
    time: i64,
    /// Seconds *west* of UTC, Mercurial's convention.
    offset: i32,
    branch: String,
    desc: String,
    files: Vec<FileChange>,
    #[serde(default)]
    diff: Option<Diff>,
    /// The manifest id, GitHub's `tree_id` for Mercurial.
    #[serde(default)]
    manifest: String,
}

/// A branch or bookmark as the shim reads it.
#[derive(Debug, Deserialize)]
pub struct GatheredRef {
    #[serde(rename = "ref")]
    refname: String,
    name: String,
    kind: String,
    old: Option<String>,
    new: Option<String>,
    created: bool,
    deleted: bool,
}

/// The payload's view of what the shim gathered.
pub fn to_changes(gathered: Gathered) -> Changes {
    let commits = gathered.changesets.into_iter().map(to_commit).collect();
    let refs = gathered
        .refs
        .into_iter()
        .map(|gathered| RefChange {
            kind: if gathered.kind == "bookmark" {
                RefKind::Bookmark
            } else {
                RefKind::Branch
            },
            refname: gathered.refname,
            name: gathered.name,
            old: gathered.old,
            new: gathered.new,
            created: gathered.created,
            deleted: gathered.deleted,
            forced: false,
            discarded: None,
        })
        .collect();
    Changes {
        commits,
        total_commits: gathered.total,
        refs,
        heads: gathered
            .heads
            .into_iter()
            .map(|(refname, changeset)| (refname, to_commit(changeset)))
            .collect(),
    }
}

fn to_commit(changeset: Changeset) -> Commit {
    let author = match changeset.user.split_once(" <") {
        Some((name, _)) => name.trim().to_string(),
        None => changeset.user.clone(),
    };
    let committer_name = author.clone();
    let offset_minutes = -changeset.offset / 60;
    let (timestamp, utctimestamp) = payload_dates(changeset.time, offset_minutes);
    let date = iso8601(changeset.time, offset_minutes);
    let email = changeset
        .user
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(email, _)| email.to_string())
        .unwrap_or_default();
    Commit {
        author,
        branch: Some(changeset.branch),
        files: changeset.files,
        message: changeset.desc,
        node: short_id(&changeset.node),
        parents: changeset
            .parents
            .iter()
            .map(|parent| short_id(parent))
            .collect(),
        raw_author: changeset.user,
        raw_node: changeset.node,
        revision: Some(changeset.rev),
        size: -1,
        timestamp,
        utctimestamp,
        url: String::new(),
        unreadable: None,
        hidden: Hidden {
            diff: changeset.diff,
            tree_id: changeset.manifest,
            committer_name,
            committer_email: email.clone(),
            author_email: email,
            committer_date: date.clone(),
            author_date: date,
        },
    }
}

/// Writes the embedded shim to `<state>/hook.py` (when it differs) and returns its path.
pub fn ensure_shim(state: &StateDir) -> Result<PathBuf> {
    let path = state.root.join("hook.py");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SHIM) {
        crate::state::create_state_dir(&state.root)?;
        crate::state::write_atomically(&path, SHIM.as_bytes())?;
    }
    Ok(path)
}

/// Gathers `revset` with `hg pushbroker-gather`, outside a push.
pub fn gather_cli(root: &Path, state: &StateDir, revset: &str, limits: Limits) -> Result<Gathered> {
    let shim = ensure_shim(state)?;
    let output = Command::new("hg")
        .current_dir(root)
        .env("HGPLAIN", "1")
        .env("HGENCODING", "utf-8")
        .arg("--config")
        .arg(format!("extensions.pushbroker={}", shim.display()))
        .args([
            "pushbroker-gather",
            revset,
            "--max-commits",
            &limits.max_commits.to_string(),
        ])
        .args(["--diff-lines", &limits.diff_lines.unwrap_or(0).to_string()])
        .args(limits.heads.then_some("--heads"))
        .output()
        .context("running hg (is Mercurial installed?)")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "hg could not read {revset:?}: {}",
            stderr.lines().last().unwrap_or("no error message").trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("reading what hg pushbroker-gather printed")
}
