//! `format = "github"`: one GitHub push event per ref, checked with GitHub's own
//! libraries (Octokit's signature verification, the published push-event schema).

use std::path::Path;

use serde_json::{Value, json};

use crate::util::http::{Received, Receiver};
use crate::util::{TestEnv, short};

/// Runs tests/node/verify-github.mjs over the deliveries; returns its output lines.
fn verify_with_octokit(env: &TestEnv, secret: &str, requests: &[Received]) -> (i32, Vec<String>) {
    let deliveries: Vec<Value> = requests
        .iter()
        .map(|request| {
            let headers: serde_json::Map<String, Value> = request
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"headers": headers, "body": request.body_text()})
        })
        .collect();
    let file = env.path("deliveries.json");
    std::fs::write(&file, serde_json::to_vec(&deliveries).expect("json")).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/verify-github.mjs");
    assert!(
        script
            .with_file_name("node_modules/@octokit/webhooks")
            .is_dir(),
        "tests/node/node_modules is missing: run ./install.sh --deps"
    );
    let output = std::process::Command::new("node")
        .arg(&script)
        .arg(secret)
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("node is missing ({error}): run ./install.sh --deps"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.code().unwrap_or(-1),
        text.lines().map(str::to_string).collect(),
    )
}

#[test]
fn one_push_event_per_ref_that_octokit_verifies_and_the_schema_accepts() {
    let mut env = TestEnv::new();
    env.set_env("GH_SECRET", "octo-s3cret");
    env.grant_env("GH_SECRET");
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\nsecret = \"env:GH_SECRET\"\n",
            receiver.url("/github")
        ),
    );
    // The server's default branch is what its HEAD names.
    env.git(&server, &["symbolic-ref", "HEAD", "refs/heads/trunk"])
        .ok();
    let work = env.work("widgets");
    let base = env.commit(
        &work,
        &[("a.txt", Some("1")), ("gone.txt", Some("x"))],
        "base",
        0,
    );
    env.push(&work, &server, &["main"]);
    let on_main = env.commit(
        &work,
        &[
            ("a.txt", Some("2")),
            ("gone.txt", None),
            ("new.txt", Some("n")),
        ],
        "Change main\n\nbody",
        1,
    );
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let on_feature = env.commit(&work, &[("f.txt", Some("f"))], "Feature work", 2);
    let push = env.push(&work, &server, &["main", "feature"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.contains(&"gh (post) main: delivered (HTTP 200)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"gh (post) feature: delivered (HTTP 200)".to_string()),
        "{lines:?}"
    );

    let requests: Vec<Received> = receiver.requests().into_iter().skip(1).collect();
    assert_eq!(requests.len(), 2, "one delivery per ref");
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| r.header("X-GitHub-Delivery"))
        .collect();
    assert_ne!(ids[0], ids[1], "distinct delivery ids");
    let (status, output) = verify_with_octokit(&env, "octo-s3cret", &requests);
    assert_eq!(status, 0, "{output:#?}");
    assert_eq!(
        output.iter().filter(|line| line.ends_with(" ok")).count(),
        2,
        "{output:#?}"
    );
    assert_eq!(output.last().map(String::as_str), Some("received 2"));
    let (status, output) = verify_with_octokit(&env, "wrong-secret", &requests);
    assert_eq!(status, 1, "a wrong secret must fail: {output:#?}");

    let main = requests
        .iter()
        .map(Received::json)
        .find(|event| event["ref"] == "refs/heads/main")
        .expect("main");
    assert_eq!(main["before"], base.as_str());
    assert_eq!(main["repository"]["default_branch"], "trunk");
    assert_eq!(main["after"], on_main.as_str());
    assert_eq!(
        (
            main["created"].as_bool(),
            main["deleted"].as_bool(),
            main["forced"].as_bool()
        ),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(
        main["compare"],
        format!(
            "https://code.example.com/acme/widgets/compare/{}...{}",
            short(&base),
            short(&on_main)
        )
    );
    let commit = &main["commits"][0];
    assert_eq!(main["commits"].as_array().expect("commits").len(), 1);
    assert_eq!(commit["id"], on_main.as_str());
    assert_eq!(
        commit["tree_id"],
        env.git_out(&work, &["rev-parse", &format!("{on_main}^{{tree}}")])
            .as_str()
    );
    assert_eq!(commit["message"], "Change main\n\nbody\n");
    assert_eq!(commit["timestamp"], "2026-11-27T10:01:00+01:00");
    assert_eq!(
        commit["author"],
        json!({"name": "Alice Example", "email": "alice@example.com", "date": "2026-11-27T10:01:00+01:00"})
    );
    assert_eq!(
        (
            commit["added"].clone(),
            commit["removed"].clone(),
            commit["modified"].clone()
        ),
        (json!(["new.txt"]), json!(["gone.txt"]), json!(["a.txt"]))
    );
    assert_eq!(main["head_commit"]["id"], on_main.as_str());
    assert_eq!(main["repository"]["full_name"], "acme/widgets");
    assert_eq!(
        main["repository"]["html_url"],
        "https://code.example.com/acme/widgets"
    );
    assert_eq!(
        main["repository"]["clone_url"],
        "https://code.example.com/acme/widgets.git"
    );
    assert_eq!(main["pusher"], json!({"name": "alice", "email": null}));
    assert_eq!(main["sender"]["login"], "alice");
    let feature = requests
        .iter()
        .map(Received::json)
        .find(|event| event["ref"] == "refs/heads/feature")
        .expect("feature");
    assert_eq!(feature["created"], true);
    assert_eq!(feature["before"], "0".repeat(40));
    assert_eq!(feature["commits"][0]["id"], on_feature.as_str());
}

#[test]
fn a_deleted_branch_and_a_tag_are_valid_events_too() {
    let mut env = TestEnv::new();
    env.set_env("GH_SECRET", "octo");
    env.grant_env("GH_SECRET");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nurl = \"{}\"\nformat = \"github\"\nsecret = \"env:GH_SECRET\"\n", receiver.url("/")),
    );
    let work = env.work("widgets");
    let base = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main", "main:refs/heads/old"]);
    env.git(&work, &["tag", "-a", "-m", "v1", "v1.0"]).ok();
    env.push(&work, &server, &[":refs/heads/old", "v1.0"]);
    let requests: Vec<Received> = receiver.requests().into_iter().skip(2).collect();
    assert_eq!(requests.len(), 2);
    let (status, output) = verify_with_octokit(&env, "octo", &requests);
    assert_eq!(status, 0, "{output:#?}");
    let events: Vec<Value> = requests.iter().map(Received::json).collect();
    let deleted = events
        .iter()
        .find(|e| e["ref"] == "refs/heads/old")
        .expect("deletion");
    assert_eq!(
        (deleted["deleted"].as_bool(), deleted["after"].as_str()),
        (Some(true), Some("0000000000000000000000000000000000000000"))
    );
    assert_eq!(deleted["head_commit"], Value::Null);
    let tag = events
        .iter()
        .find(|e| e["ref"] == "refs/tags/v1.0")
        .expect("tag");
    assert_eq!(tag["commits"], json!([]));
    // GitHub's head_commit of a tag: the commit under the tag object.
    assert_eq!(tag["head_commit"]["id"], base.as_str());
    assert_eq!(tag["head_commit"]["message"], "base\n");
    assert_ne!(tag["after"], base.as_str(), "after is the tag object");
    let signature = requests[0].header("X-Hub-Signature");
    assert!(
        signature.starts_with("sha1=") && signature.len() == 45,
        "{signature}"
    );
}

#[test]
fn gitlab_push_hooks_for_one_and_fifty_changesets() {
    let mut env = TestEnv::new();
    env.set_env("GL_TOKEN", "gl-t0ken");
    env.grant_env("GL_TOKEN");
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nname = \"gl\"\nurl = \"{}\"\nformat = \"gitlab\"\nsecret = \"env:GL_TOKEN\"\n", receiver.url("/")),
    );
    let work = env.work("widgets");
    let first = env.commit(&work, &[("a", Some("0"))], "First\n\nbody", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["gl (post) main: delivered (HTTP 200)"]
    );
    let request = receiver.only();
    assert_eq!(request.header("X-Gitlab-Event"), "Push Hook");
    assert_eq!(request.header("X-Gitlab-Token"), "gl-t0ken");
    assert_eq!(request.header("Content-Type"), "application/json");
    let hook = request.json();
    assert_eq!(hook["object_kind"], "push");
    assert_eq!(hook["ref"], "refs/heads/main");
    assert_eq!(hook["before"], "0".repeat(40));
    assert_eq!(hook["after"], first.as_str());
    assert_eq!(hook["checkout_sha"], first.as_str());
    assert_eq!(hook["user_username"], "alice");
    assert_eq!(hook["total_commits_count"], 1);
    assert_eq!(hook["project"]["path_with_namespace"], "acme/widgets");
    assert_eq!(hook["project"]["default_branch"], "main");
    assert_eq!(
        hook["project"]["web_url"],
        "https://code.example.com/acme/widgets"
    );
    assert_eq!(
        hook["repository"]["git_http_url"],
        "https://code.example.com/acme/widgets.git"
    );
    assert_eq!(
        hook["commits"],
        json!([{"id": first, "message": "First\n\nbody\n", "title": "First", "timestamp": "2026-11-27T10:00:00+01:00",
                "url": format!("https://code.example.com/acme/widgets/commits/{first}"),
                "author": {"name": "Alice Example", "email": "alice@example.com"},
                "added": ["a"], "modified": [], "removed": []}])
    );

    let ids: Vec<String> = (1..=50)
        .map(|n| {
            env.commit(
                &work,
                &[("a", Some(&n.to_string()))],
                &format!("change {n}"),
                n,
            )
        })
        .collect();
    env.push(&work, &server, &["main"]);
    let hook = receiver.requests().last().expect("second").json();
    assert_eq!(hook["total_commits_count"], 50);
    let listed: Vec<&str> = hook["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        listed,
        ids[30..].iter().map(String::as_str).collect::<Vec<_>>(),
        "the newest 20, oldest first"
    );

    env.git(&work, &["tag", "v1"]).ok();
    env.push(&work, &server, &["v1"]);
    let tag = receiver.requests().last().expect("tag").clone();
    assert_eq!(tag.header("X-Gitlab-Event"), "Tag Push Hook");
    assert_eq!(tag.json()["object_kind"], "tag_push");

    let head = env.git_out(&work, &["rev-parse", "HEAD"]);
    let dry = env
        .pushbroker_with_input(
            &server,
            &["hook", "--dry-run"],
            &format!("{} {head} refs/heads/main\n", "0".repeat(40)),
            &[("GIT_DIR", ".")],
        )
        .success();
    assert!(
        dry.stdout.contains("X-Gitlab-Token: ***") && !dry.stdout.contains("gl-t0ken"),
        "{}",
        dry.stdout
    );
}

#[test]
fn a_branch_filter_applies_to_each_refs_own_delivery() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\nbranches = [\"main\"]\n", receiver.url("/")),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    env.commit(&work, &[("b", Some("1"))], "feature", 1);
    let push = env.push(&work, &server, &["main", "feature"]);
    let mut lines = push.remote_lines();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "gh (post) feature: skipped: this ref does not match its branches filter",
            "gh (post) main: delivered (HTTP 200)",
        ]
    );
    assert_eq!(receiver.only().json()["ref"], "refs/heads/main");
}

#[test]
fn a_redelivered_github_event_keeps_the_default_branch_it_was_spooled_with() {
    let env = TestEnv::new();
    let port = crate::util::free_port();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"http://127.0.0.1:{port}/\"\nformat = \"github\"\n"
        ),
    );
    env.git(&server, &["symbolic-ref", "HEAD", "refs/heads/develop"])
        .ok();
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.remote_lines()[0].contains("spooled"),
        "{:?}",
        push.remote_lines()
    );
    // The default branch changes after the push; the event keeps the one it had.
    env.git(&server, &["symbolic-ref", "HEAD", "refs/heads/main"])
        .ok();
    let receiver = Receiver::on_port(port);
    env.pushbroker(&server, &["redeliver"]).success();
    let event = receiver.only().json();
    assert_eq!(event["ref"], "refs/heads/main");
    assert_eq!(event["repository"]["default_branch"], "develop");
}

#[test]
fn sha1_signature_false_leaves_out_x_hub_signature_and_is_for_github_only() {
    let mut env = TestEnv::new();
    env.set_env("GH_SECRET", "octo");
    env.grant_env("GH_SECRET");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\nsecret = \"env:GH_SECRET\"\nsha1_signature = false\n", receiver.url("/")),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let request = receiver.only();
    assert_eq!(request.header_opt("X-Hub-Signature"), None);
    assert!(request.header("X-Hub-Signature-256").starts_with("sha256="));

    std::fs::write(
        server.join("pushbroker.toml"),
        format!("[[service]]\nbroker = \"post\"\nname = \"js\"\nurl = \"{}\"\nformat = \"json\"\nsha1_signature = true\n", receiver.url("/")),
    )
    .expect("config");
    let check = env.pushbroker(&server, &["check"]);
    assert_eq!(check.status, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        format!("{}{}", check.stdout, check.stderr)
            .contains("sha1_signature is for format = \"github\" only"),
        "{}{}",
        check.stdout,
        check.stderr
    );
}

#[test]
fn a_spooled_tag_event_keeps_its_head_commit_when_redelivered() {
    let env = TestEnv::new();
    let port = crate::util::free_port();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"http://127.0.0.1:{port}/\"\nformat = \"github\"\n"
        ),
    );
    let work = env.work("widgets");
    let tip = env.commit(&work, &[("a", Some("1"))], "Tagged\n\nbody", 0);
    env.git(&work, &["tag", "-a", "-m", "v1", "v1"]).ok();
    let push = env.push(&work, &server, &["v1"]);
    assert!(
        push.remote_lines()[0].contains("spooled"),
        "{:?}",
        push.remote_lines()
    );
    // The repository changes before the redelivery: the event keeps what it read.
    env.git(&server, &["tag", "-d", "v1"]).ok();
    let receiver = Receiver::on_port(port);
    env.pushbroker(&server, &["redeliver"]).success();
    let event = receiver.only().json();
    assert_eq!(event["ref"], "refs/tags/v1");
    assert_eq!(event["head_commit"]["id"], tip.as_str());
    assert_eq!(event["head_commit"]["message"], "Tagged\n\nbody\n");
    assert_eq!(event["head_commit"]["author"]["email"], "alice@example.com");
    assert_eq!(event["head_commit"]["added"], json!(["a"]));
}
