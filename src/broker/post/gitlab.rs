//! `format = "gitlab"`: GitLab's Push Hook (and Tag Push Hook) per ref, for receivers
//! such as the GitLab plugins of CI servers. The `secret` is sent as `X-Gitlab-Token`,
//! as GitLab does.

use serde_json::{Value, json};

use super::github::{number, ref_and_commits};
use crate::broker::Delivery;
use crate::event::{Commit, FileChangeKind, RefKind};

/// Most commits GitLab lists in one push hook; `total_commits_count` has the rest.
pub const MAX_COMMITS: usize = 20;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// The event of the delivery's ref, and the value of `X-Gitlab-Event`.
pub fn push_hook(delivery: &Delivery<'_>) -> Option<(Value, &'static str)> {
    let push = delivery.push;
    let (change, on_ref) = ref_and_commits(delivery)?;
    let total = if change.kind == RefKind::Branch && on_ref.len() == push.commits.len() {
        push.total_commits
    } else {
        on_ref.len()
    };
    let listed = &on_ref[on_ref.len().saturating_sub(MAX_COMMITS)..];
    let repo = &push.repository;
    let path = format!("{}/{}", repo.owner, repo.slug);
    let host = url::Url::parse(&repo.website)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_default();
    let ssh = format!("git@{host}:{path}.git");
    let http = format!("{}.git", repo.website);
    let visibility = if repo.is_private { 0 } else { 20 };
    let (kind, event) = if change.kind == RefKind::Tag {
        ("tag_push", "Tag Push Hook")
    } else {
        ("push", "Push Hook")
    };
    let refname = if change.refname.starts_with("refs/") {
        change.refname.clone()
    } else {
        format!("refs/heads/{}", change.name)
    };
    let hook = json!({
        "object_kind": kind,
        "event_name": kind,
        "before": change.old.as_deref().unwrap_or(ZERO),
        "after": change.new.as_deref().unwrap_or(ZERO),
        "ref": refname,
        "ref_protected": false,
        "checkout_sha": push.head_of(change).map(|commit| commit.raw_node.as_str()),
        "message": null,
        "user_id": number("user", &push.user),
        "user_name": push.user,
        "user_username": push.user,
        "user_email": null,
        "user_avatar": null,
        "project_id": number("repository", &path),
        "project": {
            "id": number("repository", &path),
            "name": repo.name,
            "description": null,
            "web_url": repo.website,
            "avatar_url": null,
            "git_ssh_url": ssh,
            "git_http_url": http,
            "namespace": repo.owner,
            "visibility_level": visibility,
            "path_with_namespace": path,
            "default_branch": repo.default_branch,
            "homepage": repo.website,
            "url": ssh,
            "ssh_url": ssh,
            "http_url": http,
        },
        "commits": listed.iter().map(|commit| gitlab_commit(commit)).collect::<Vec<_>>(),
        "total_commits_count": total,
        "repository": {
            "name": repo.name,
            "url": ssh,
            "description": null,
            "homepage": repo.website,
            "git_http_url": http,
            "git_ssh_url": ssh,
            "visibility_level": visibility,
        },
    });
    Some((hook, event))
}

fn gitlab_commit(commit: &Commit) -> Value {
    json!({
        "id": commit.raw_node,
        "message": commit.message,
        "title": commit.message.lines().next().unwrap_or(""),
        "timestamp": commit.hidden.author_date,
        "url": commit.url,
        "author": {"name": commit.author, "email": commit.hidden.author_email},
        "added": commit.paths(FileChangeKind::Added),
        "modified": commit.paths(FileChangeKind::Modified),
        "removed": commit.paths(FileChangeKind::Removed),
    })
}
