//! The conformance cases `pushbroker verify` runs a custom broker against.
//!
//! Each case is a payload a real push could produce; a broker passes a case when it
//! exits 0 within its timeout. The cases are built here, not read from a repository, so
//! they are the same on every server.

use crate::event::{Commit, FileChange, FileChangeKind, Push, RefChange, RefKind, Repository, Scm};

/// One conformance case.
pub struct Case {
    /// What it checks, for the report.
    pub name: &'static str,
    /// The event the broker gets.
    pub push: Push,
}

/// Every case, in the order they run.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "one changeset",
            push: push(
                Scm::Git,
                vec![commit(1, "Fix the frobnicator\n\nLonger text.\n", &[0])],
                vec![branch("main", Some(0), Some(1))],
            ),
        },
        Case {
            name: "1,000 changesets",
            push: push(
                Scm::Git,
                (1..=1000)
                    .map(|n| commit(n, &format!("Change number {n}\n"), &[n - 1]))
                    .collect(),
                vec![branch("main", Some(0), Some(1000))],
            ),
        },
        Case {
            name: "Unicode and formerly non-UTF-8 text",
            push: {
                let mut change = commit(
                    1,
                    "Übersetzung: 日本語, عربي, emoji 🚀, replaced bytes \u{fffd}\u{fffd}\n\nNUL: \u{0} bell: \u{7} CR: \r done\n",
                    &[0],
                );
                change.author = "René Ünicode 山田".into();
                change.raw_author = "René Ünicode 山田 <rene@exämple.com>".into();
                change.files = vec![file("docs/naïve file name.md", FileChangeKind::Added)];
                push(
                    Scm::Git,
                    vec![change],
                    vec![branch("feature/ü", Some(0), Some(1))],
                )
            },
        },
        Case {
            name: "a merge",
            push: push(
                Scm::Git,
                vec![commit(3, "Merge branch 'topic'\n", &[1, 2])],
                vec![branch("main", Some(1), Some(3))],
            ),
        },
        Case {
            name: "a branch deletion with no changesets",
            push: push(
                Scm::Git,
                Vec::new(),
                vec![branch("old-feature", Some(5), None)],
            ),
        },
        Case {
            name: "a tag push",
            push: push(
                Scm::Git,
                Vec::new(),
                vec![RefChange {
                    refname: "refs/tags/v1.0".into(),
                    name: "v1.0".into(),
                    kind: RefKind::Tag,
                    old: None,
                    new: Some(id(7)),
                    created: true,
                    deleted: false,
                    forced: false,
                    discarded: None,
                }],
            ),
        },
        Case {
            name: "a Mercurial payload",
            push: {
                let mut changes: Vec<Commit> = (1..=3)
                    .map(|n| commit(n, &format!("hg change {n}\n"), &[n - 1]))
                    .collect();
                for (index, change) in changes.iter_mut().enumerate() {
                    change.revision = Some(41 + index as u64);
                    change.branch = Some("default".into());
                }
                push(
                    Scm::Hg,
                    changes,
                    vec![
                        RefChange {
                            refname: "default".into(),
                            name: "default".into(),
                            kind: RefKind::Branch,
                            old: Some(id(0)),
                            new: Some(id(3)),
                            created: false,
                            deleted: false,
                            forced: false,
                            discarded: None,
                        },
                        RefChange {
                            refname: "stable".into(),
                            name: "stable".into(),
                            kind: RefKind::Bookmark,
                            old: None,
                            new: Some(id(3)),
                            created: true,
                            deleted: false,
                            forced: false,
                            discarded: None,
                        },
                    ],
                )
            },
        },
    ]
}

fn id(n: u32) -> String {
    format!("{n:040x}")
}

fn file(path: &str, kind: FileChangeKind) -> FileChange {
    FileChange {
        file: path.into(),
        kind,
    }
}

fn commit(n: u32, message: &str, parents: &[u32]) -> Commit {
    let raw_node = id(n);
    Commit {
        author: "Alice Example".into(),
        branch: Some("main".into()),
        files: vec![file("src/lib.rs", FileChangeKind::Modified)],
        message: message.into(),
        node: raw_node[..12].into(),
        parents: parents.iter().map(|p| id(*p)[..12].to_string()).collect(),
        raw_author: "Alice Example <alice@example.com>".into(),
        url: format!("https://code.example.com/acme/widgets/commits/{raw_node}"),
        raw_node,
        revision: None,
        size: -1,
        timestamp: "2026-11-27 10:00:00".into(),
        utctimestamp: "2026-11-27 09:00:00+00:00".into(),
        unreadable: None,
        hidden: Default::default(),
    }
}

fn branch(name: &str, old: Option<u32>, new: Option<u32>) -> RefChange {
    RefChange {
        refname: format!("refs/heads/{name}"),
        name: name.into(),
        kind: RefKind::Branch,
        old: old.map(id),
        new: new.map(id),
        created: old.is_none(),
        deleted: new.is_none(),
        forced: false,
        discarded: None,
    }
}

fn push(scm: Scm, commits: Vec<Commit>, refs: Vec<RefChange>) -> Push {
    Push {
        canon_url: "https://code.example.com".into(),
        user: "alice".into(),
        repository: Repository {
            absolute_url: "/acme/widgets/".into(),
            fork: false,
            is_private: true,
            name: "widgets".into(),
            owner: "acme".into(),
            scm,
            slug: "widgets".into(),
            website: "https://code.example.com/acme/widgets".into(),
            default_branch: scm.usual_default_branch().into(),
        },
        total_commits: commits.len(),
        commits,
        refs,
        heads: Default::default(),
        pushed_at: "2026-11-27T09:00:03Z".into(),
        test: false,
    }
}
