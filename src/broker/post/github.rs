//! `format = "github"`: one GitHub `push` event per ref, field for field as GitHub sends
//! it, so receivers written for GitHub (CI systems, deploy tools) accept it. Checked in
//! the tests against `@octokit/webhooks-schemas` and Octokit's signature verification.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::broker::Delivery;
use crate::event::{Commit, FileChangeKind, Push, RefChange, RefKind, Repository};

/// Most commits in one event, as GitHub.
pub const MAX_COMMITS: usize = 2048;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// The `push` event of the delivery's ref.
pub fn push_event(delivery: &Delivery<'_>) -> Option<Value> {
    let push = delivery.push;
    let (change, on_ref) = ref_and_commits(delivery)?;
    let commits = &on_ref[on_ref.len().saturating_sub(MAX_COMMITS)..];
    let before = change.old.as_deref().unwrap_or(ZERO);
    let after = change.new.as_deref().unwrap_or(ZERO);
    // GitHub's head_commit: the commit the ref now points to, new or not; null only
    // for a deletion.
    let head = push.head_of(change);
    let repo = &push.repository;
    Some(json!({
        "ref": git_ref(change),
        "before": before,
        "after": after,
        "created": change.created,
        "deleted": change.deleted,
        "forced": change.forced,
        "base_ref": null,
        "compare": format!("{}/compare/{}...{}", repo.website, &before[..12], &after[..12]),
        "commits": commits.iter().map(|commit| github_commit(commit)).collect::<Vec<_>>(),
        "head_commit": head.map(github_commit),
        "repository": repository(push, repo),
        "pusher": {"name": push.user, "email": null},
        "sender": user(&push.canon_url, &push.user, "User"),
    }))
}

/// Whether a commit of the push is reported in this ref's event: a branch's own
/// commits, or for a tag the commits no branch brought.
/// The ref a per-ref delivery is about, and the delivered commits that belong to it.
pub(super) fn ref_and_commits<'p>(
    delivery: &Delivery<'p>,
) -> Option<(&'p RefChange, Vec<&'p Commit>)> {
    let push = delivery.push;
    let change = push.refs.get(delivery.ref_index?)?;
    let on_ref = push
        .capped_commits(delivery.max_commits)
        .iter()
        .filter(|commit| belongs(commit, change))
        .collect();
    Some((change, on_ref))
}

fn belongs(commit: &Commit, change: &RefChange) -> bool {
    match change.kind {
        RefKind::Branch => commit.branch.as_deref() == Some(change.name.as_str()),
        RefKind::Tag | RefKind::Other => commit.branch.is_none(),
        RefKind::Bookmark => false,
    }
}

fn git_ref(change: &RefChange) -> String {
    match change.kind {
        // Mercurial branches and bookmarks are reported as GitHub branches.
        RefKind::Branch | RefKind::Bookmark if !change.refname.starts_with("refs/") => {
            format!("refs/heads/{}", change.name)
        }
        _ => change.refname.clone(),
    }
}

fn github_commit(commit: &Commit) -> Value {
    let hidden = &commit.hidden;
    json!({
        "id": commit.raw_node,
        "tree_id": hidden.tree_id,
        "distinct": true,
        "message": commit.message,
        "timestamp": hidden.author_date,
        "url": commit.url,
        "author": {"name": commit.author, "email": hidden.author_email, "date": hidden.author_date},
        "committer": {"name": hidden.committer_name, "email": hidden.committer_email, "date": hidden.committer_date},
        "added": commit.paths(FileChangeKind::Added),
        "removed": commit.paths(FileChangeKind::Removed),
        "modified": commit.paths(FileChangeKind::Modified),
    })
}

/// A stable positive id for a name, as GitHub gives every object a number.
pub(super) fn number(kind: &str, name: &str) -> u64 {
    let digest = Sha256::digest(format!("{kind}:{name}"));
    u64::from(u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) >> 1)
}

pub(super) fn user(canon_url: &str, login: &str, kind: &str) -> Value {
    let api = format!("{canon_url}/api/users/{login}");
    json!({
        "login": login,
        "id": number("user", login),
        "node_id": format!("U_{:x}", number("user", login)),
        "avatar_url": format!("{canon_url}/avatars/{login}"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{canon_url}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "site_admin": false,
    })
}

/// GitHub's API URL fields of a repository, as paths under its API URL.
const API_PATHS: &[(&str, &str)] = &[
    ("forks_url", "forks"),
    ("keys_url", "keys{/key_id}"),
    ("collaborators_url", "collaborators{/collaborator}"),
    ("teams_url", "teams"),
    ("hooks_url", "hooks"),
    ("issue_events_url", "issues/events{/number}"),
    ("events_url", "events"),
    ("assignees_url", "assignees{/user}"),
    ("branches_url", "branches{/branch}"),
    ("tags_url", "tags"),
    ("blobs_url", "git/blobs{/sha}"),
    ("git_tags_url", "git/tags{/sha}"),
    ("git_refs_url", "git/refs{/sha}"),
    ("trees_url", "git/trees{/sha}"),
    ("statuses_url", "statuses/{sha}"),
    ("languages_url", "languages"),
    ("stargazers_url", "stargazers"),
    ("contributors_url", "contributors"),
    ("subscribers_url", "subscribers"),
    ("subscription_url", "subscription"),
    ("commits_url", "commits{/sha}"),
    ("git_commits_url", "git/commits{/sha}"),
    ("comments_url", "comments{/number}"),
    ("issue_comment_url", "issues/comments{/number}"),
    ("contents_url", "contents/{+path}"),
    ("compare_url", "compare/{base}...{head}"),
    ("merges_url", "merges"),
    ("archive_url", "{archive_format}{/ref}"),
    ("downloads_url", "downloads"),
    ("issues_url", "issues{/number}"),
    ("pulls_url", "pulls{/number}"),
    ("milestones_url", "milestones{/number}"),
    (
        "notifications_url",
        "notifications{?since,all,participating}",
    ),
    ("labels_url", "labels{/name}"),
    ("releases_url", "releases{/id}"),
    ("deployments_url", "deployments"),
];

pub(super) fn repository(push: &Push, repo: &Repository) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.slug);
    let api = format!("{}/api/repos/{full_name}", push.canon_url);
    let host = url::Url::parse(&repo.website)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_default();
    let pushed =
        chrono::DateTime::parse_from_rfc3339(&push.pushed_at).map_or(0, |date| date.timestamp());
    let mut value = json!({
        "id": number("repository", &full_name),
        "node_id": format!("R_{:x}", number("repository", &full_name)),
        "name": repo.name,
        "full_name": full_name,
        "private": repo.is_private,
        "owner": user(&push.canon_url, &repo.owner, "Organization"),
        "html_url": repo.website,
        "description": null,
        "fork": false,
        "url": api,
        "created_at": pushed,
        "updated_at": push.pushed_at,
        "pushed_at": pushed,
        "git_url": format!("git://{host}/{full_name}.git"),
        "ssh_url": format!("git@{host}:{full_name}.git"),
        "clone_url": format!("{}.git", repo.website),
        "svn_url": repo.website,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": false,
        "has_projects": false,
        "has_downloads": false,
        "has_wiki": false,
        "has_pages": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "open_issues_count": 0,
        "license": null,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.is_private { "private" } else { "public" },
        "custom_properties": {},
    });
    if let Value::Object(map) = &mut value {
        for (key, path) in API_PATHS {
            map.insert((*key).to_string(), Value::String(format!("{api}/{path}")));
        }
    }
    value
}
