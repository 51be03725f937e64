//! The push event and the payload: the public broker API.
//!
//! A [`Push`] is built once per push from the SCM layer and the configuration; every
//! broker reads it and none changes it. [`Payload`] is the serialized view a broker sends
//! or hands on: the Bitbucket broker payload, field for field, plus `refs`, `truncated`,
//! `total_commits`, `delivery` and `pushed_at` (SPEC "The payload").

use serde::{Deserialize, Serialize};

/// Everything one push delivered, as every service sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push {
    /// The forge's base URL (site `canon_url`).
    pub canon_url: String,
    /// Who pushed (`GL_USER`, `REMOTE_USER`, …, then `USER`).
    pub user: String,
    /// The repository the push went to.
    pub repository: Repository,
    /// The new changesets, parents before children (in Git grouped by the pushed branch
    /// each belongs to, in input order, tag-only ones last), at most as many as the
    /// largest `max_commits` of the services (the newest ones are kept).
    pub commits: Vec<Commit>,
    /// How many changesets the push really brought, whatever the cap.
    pub total_commits: usize,
    /// Every ref (or branch/bookmark) the push changed, in the order the hook got them.
    pub refs: Vec<RefChange>,
    /// The commit a pushed ref now points to, by full ref name, where `commits` does not
    /// hold it under the ref's new id: a ref created at an existing commit, an annotated
    /// tag's commit, a tip the cap left out. Filled only when a per-ref service needs it
    /// (see [`Push::head_of`]); not part of the payload, kept in the spool.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub heads: std::collections::BTreeMap<String, Commit>,
    /// When the hook ran, RFC 3339 in UTC.
    pub pushed_at: String,
    /// A test event from `pushbroker test`, not a real push.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

impl Push {
    /// `"[test] "` for a test event, else nothing: what every subject and chat headline
    /// of a test delivery starts with, so no reader takes it for a push.
    pub fn test_tag(&self) -> &'static str {
        if self.test { "[test] " } else { "" }
    }

    /// `X-Pushbroker-Test: true` for a test event (every POST and email of a test
    /// delivery carries it), else nothing.
    pub fn test_header(&self) -> Option<(&'static str, String)> {
        self.test.then(|| ("X-Pushbroker-Test", "true".to_string()))
    }

    /// The line a test delivery's email body opens with (empty for a real push).
    pub fn test_note(&self) -> &'static str {
        if self.test {
            "This is a test delivery (`pushbroker test`), not a push: nothing was pushed.\n\n"
        } else {
            ""
        }
    }

    /// The commit `change` now points to (an annotated tag peeled), as GitHub's
    /// `head_commit` reports it: `None` for a deletion, or when it was not read.
    pub fn head_of(&self, change: &RefChange) -> Option<&Commit> {
        if change.deleted {
            return None;
        }
        self.heads.get(&change.refname).or_else(|| {
            let new = change.new.as_deref()?;
            self.commits
                .iter()
                .rev()
                .find(|commit| commit.raw_node == new)
        })
    }

    /// The push as one of its per-ref deliveries needs it: only ref `index` (which is
    /// index 0 of the copy), everything else as it is. Made without copying the other
    /// refs, so a push of 10,000 refs does not keep (or queue) 10,000 copies of them all.
    pub fn for_ref(&self, index: usize) -> Option<Push> {
        Some(Push {
            canon_url: self.canon_url.clone(),
            user: self.user.clone(),
            repository: self.repository.clone(),
            commits: self.commits.clone(),
            total_commits: self.total_commits,
            refs: vec![self.refs.get(index)?.clone()],
            heads: self
                .heads
                .get(&self.refs[index].refname)
                .map(|head| (self.refs[index].refname.clone(), head.clone()))
                .into_iter()
                .collect(),
            pushed_at: self.pushed_at.clone(),
            test: self.test,
        })
    }
}

/// The repository block of the payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repository {
    /// `/<owner>/<slug>/`, as Bitbucket sent it.
    pub absolute_url: String,
    /// Always false: a self-hosted server has no fork relation to report.
    pub fork: bool,
    /// `[repository] private` (default true).
    pub is_private: bool,
    /// Display name.
    pub name: String,
    /// Owner (user or group) name.
    pub owner: String,
    /// `git` or `hg`.
    pub scm: Scm,
    /// URL-safe name.
    pub slug: String,
    /// The repository's web page.
    pub website: String,
    /// The branch `HEAD` names (Git), `default` (Mercurial): GitHub's and GitLab's
    /// `default_branch`. Not part of the Bitbucket payload; the spool keeps it beside it.
    #[serde(skip)]
    pub default_branch: String,
}

/// The version control system of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scm {
    /// Git.
    Git,
    /// Mercurial.
    Hg,
}

impl Scm {
    /// The default branch when nothing names one: `main` (a Git `HEAD` that names no
    /// branch), `default` (Mercurial's).
    pub fn usual_default_branch(self) -> &'static str {
        match self {
            Scm::Git => "main",
            Scm::Hg => "default",
        }
    }
}

/// One changeset of the push. (`Default` is an empty one, for a slot about to be filled.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Commit {
    /// Author name.
    pub author: String,
    /// The branch the changeset was pushed on; `null` when only a tag or other ref reaches it.
    pub branch: Option<String>,
    /// Files changed against the first parent (all added for a root changeset).
    pub files: Vec<FileChange>,
    /// The whole message.
    pub message: String,
    /// Short id (12 hex digits).
    pub node: String,
    /// Parents' short ids; `[]` for a root changeset.
    pub parents: Vec<String>,
    /// `Name <email>`.
    pub raw_author: String,
    /// Full id.
    pub raw_node: String,
    /// Mercurial's local revision number; `null` in Git.
    pub revision: Option<u64>,
    /// Always -1, as Bitbucket sent it.
    pub size: i64,
    /// Author date in the author's UTC offset, `YYYY-MM-DD HH:MM:SS`.
    pub timestamp: String,
    /// Author date in UTC, `YYYY-MM-DD HH:MM:SS+00:00`.
    pub utctimestamp: String,
    /// Link to the changeset on the forge (site `commit_url`).
    pub url: String,
    /// Present only on a changeset that could not be wholly read: why, one line. When
    /// the commit itself could not be read, its `message` is `(unreadable commit:
    /// <why>)` and it has no author, dates, parents or files; when only its files could
    /// not be listed (its parent is unreadable), it has everything but `files`. The
    /// push is delivered all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// What some formats need besides the Bitbucket fields; not part of the payload.
    #[serde(skip)]
    pub hidden: Hidden,
}

/// A changeset's data that the Bitbucket payload does not carry but some brokers need:
/// the email diff, and GitHub's `tree_id`, e-mail addresses and committer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Hidden {
    /// The patch against the first parent, when a service asked for diffs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    /// The tree (Git) or manifest (Mercurial) id.
    pub tree_id: String,
    /// The author's e-mail address.
    pub author_email: String,
    /// The author date, ISO 8601 with the author's offset.
    pub author_date: String,
    /// The committer's name.
    pub committer_name: String,
    /// The committer's e-mail address.
    pub committer_email: String,
    /// The commit date, ISO 8601 with the committer's offset.
    pub committer_date: String,
}

/// A changeset's patch, capped in lines when it was built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Diff {
    /// The patch text (unified diff), at most the cap's lines.
    pub text: String,
    /// Lines left out by the cap.
    pub cut_lines: usize,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Path in the repository.
    pub file: String,
    /// What happened to it.
    #[serde(rename = "type")]
    pub kind: FileChangeKind,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChangeKind {
    /// New in this changeset.
    Added,
    /// Changed content or mode.
    Modified,
    /// Deleted in this changeset.
    Removed,
}

/// One ref, branch or bookmark the push changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefChange {
    /// The full ref name (`refs/heads/main`), or the branch/bookmark name in Mercurial.
    #[serde(rename = "ref")]
    pub refname: String,
    /// The short name (`main`, `v1.0`).
    pub name: String,
    /// What kind of ref it is.
    pub kind: RefKind,
    /// The id before the push; `null` when the ref is new.
    pub old: Option<String>,
    /// The id after the push; `null` when the ref was deleted.
    pub new: Option<String>,
    /// The ref did not exist before the push.
    pub created: bool,
    /// The push deleted the ref.
    pub deleted: bool,
    /// The new value does not contain the old one (a non-fast-forward update).
    pub forced: bool,
    /// What the push took off a Git branch: for a forced update, the commits the old
    /// value reaches and the new one does not; for a deletion, the old tip alone.
    /// Absent otherwise (and always in Mercurial, where a push removes no changeset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<Discarded>,
}

/// The changesets a forced update or a deletion took off a branch (git-multimail's
/// "discards"): they stay in the repository only as long as another ref reaches them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discarded {
    /// The newest of them (at most 100), oldest first.
    pub commits: Vec<DiscardedCommit>,
    /// How many there are in all.
    pub total: usize,
}

/// One discarded changeset: its id and the first line of its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardedCommit {
    /// Short id (12 hex digits).
    pub node: String,
    /// Full id.
    pub raw_node: String,
    /// The message's first line.
    pub summary: String,
}

/// What kind of ref a [`RefChange`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    /// `refs/heads/*`, or a Mercurial named branch.
    Branch,
    /// `refs/tags/*`.
    Tag,
    /// A Mercurial bookmark.
    Bookmark,
    /// Any other ref.
    Other,
}

impl Commit {
    /// The paths of the files this changeset changed in `kind`'s way.
    pub fn paths(&self, kind: FileChangeKind) -> Vec<String> {
        self.files
            .iter()
            .filter(|file| file.kind == kind)
            .map(|file| file.file.clone())
            .collect()
    }
}

impl RefKind {
    /// The word for messages: `branch`, `tag`, `bookmark`, `ref`.
    pub fn word(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
            RefKind::Bookmark => "bookmark",
            RefKind::Other => "ref",
        }
    }
}

impl RefChange {
    /// The name branch filters match: a branch's, or a Mercurial bookmark's.
    pub fn filter_name(&self) -> Option<&str> {
        matches!(self.kind, RefKind::Branch | RefKind::Bookmark).then_some(self.name.as_str())
    }
}

/// The serialized form of a push for one delivery, in the SPEC's field order.
///
/// `broker` and `service` are present for custom brokers and `payload --service`;
/// the `post` broker's `bitbucket` and `json` formats leave them out.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// The broker's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<&'a str>,
    /// The service's options, secrets replaced by `"***"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<&'a serde_json::Value>,
    /// See [`Push::canon_url`].
    pub canon_url: &'a str,
    /// See [`Push::user`].
    pub user: &'a str,
    /// See [`Push::repository`].
    pub repository: &'a Repository,
    /// The changesets this delivery carries: the newest `max_commits` of the push.
    pub commits: &'a [Commit],
    /// True when a cap cut `commits`.
    pub truncated: bool,
    /// See [`Push::total_commits`].
    pub total_commits: usize,
    /// See [`Push::refs`].
    pub refs: &'a [RefChange],
    /// The delivery id, kept through every retry.
    pub delivery: &'a str,
    /// See [`Push::pushed_at`].
    pub pushed_at: &'a str,
    /// Present (and true) only for `pushbroker test` deliveries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

impl Push {
    /// The newest `max_commits` changesets (all when `max_commits` is 0), oldest first.
    pub fn capped_commits(&self, max_commits: usize) -> &[Commit] {
        if max_commits == 0 || self.commits.len() <= max_commits {
            &self.commits
        } else {
            &self.commits[self.commits.len() - max_commits..]
        }
    }

    /// The branches the listed changesets were pushed on, once each, in order. (A set
    /// keeps it linear: a push of many branches each with its own changesets.)
    pub fn commit_branches(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.commits
            .iter()
            .filter_map(|commit| commit.branch.as_deref())
            .filter(|name| seen.insert(*name))
            .collect()
    }

    /// The payload of one delivery of this push.
    pub fn payload<'a>(
        &'a self,
        delivery: &'a str,
        max_commits: usize,
        service: Option<(&'a str, &'a serde_json::Value)>,
    ) -> Payload<'a> {
        let commits = self.capped_commits(max_commits);
        Payload {
            broker: service.map(|(broker, _)| broker),
            service: service.map(|(_, options)| options),
            canon_url: &self.canon_url,
            user: &self.user,
            repository: &self.repository,
            commits,
            truncated: commits.len() < self.total_commits,
            total_commits: self.total_commits,
            refs: &self.refs,
            delivery,
            pushed_at: &self.pushed_at,
            test: self.test,
        }
    }
}
