//! `format = "github"`, tested on a repository with no commits: GitHub's `ping` event,
//! which GitHub sends when a webhook is created (a push event needs a ref, and there is
//! none yet). Receivers written for GitHub answer it without acting on it.

use serde_json::{Value, json};

use super::github::{number, repository, user};
use crate::broker::Delivery;

/// What GitHub's `zen` says; ours is fixed.
const ZEN: &str = "Keep it logically awesome.";

/// The `ping` event of `delivery`'s service, whose URL shows as `shown`.
pub fn ping_event(delivery: &Delivery<'_>, shown: &str) -> Value {
    let push = delivery.push;
    let repo = &push.repository;
    let full_name = format!("{}/{}", repo.owner, repo.slug);
    let hook_id = number("hook", &format!("{full_name}/{}", delivery.service));
    let api = format!("{}/api/repos/{full_name}/hooks/{hook_id}", push.canon_url);
    json!({
        "zen": ZEN,
        "hook_id": hook_id,
        "hook": {
            "type": "Repository",
            "id": hook_id,
            "name": "web",
            "active": true,
            "events": ["push"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": shown},
            "updated_at": push.pushed_at,
            "created_at": push.pushed_at,
            "url": api,
            "test_url": format!("{api}/test"),
            "ping_url": format!("{api}/pings"),
            "deliveries_url": format!("{api}/deliveries"),
            "last_response": {"code": null, "status": "unused", "message": null},
        },
        "repository": repository(push, repo),
        "sender": user(&push.canon_url, &push.user, "User"),
    })
}
