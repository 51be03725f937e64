//! Which changesets are new (SPEC): every case of the rule, through real pushes.

use serde_json::{Value, json};

use crate::util::http::Receiver;
use crate::util::{TestEnv, post_json, short};

/// A server repository with one `post` service in json format.
/// A server repository with one `post` service (json) delivering to a fresh receiver,
/// and a work repository to push from.
fn widgets() -> (TestEnv, Receiver, std::path::PathBuf, std::path::PathBuf) {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = json_server(&env, &receiver);
    let work = env.work("widgets");
    (env, receiver, server, work)
}

fn json_server(env: &TestEnv, receiver: &Receiver) -> std::path::PathBuf {
    env.server(
        "acme",
        "widgets",
        &post_json("ci", &receiver.url("/push"), ""),
    )
}

fn nodes(payload: &Value) -> Vec<String> {
    payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|commit| commit["raw_node"].as_str().expect("raw_node").to_string())
        .collect()
}

/// The payload of the last request.
#[test]
fn first_push_lists_the_root_commit_with_all_files_added() {
    let env = TestEnv::new();
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let receiver = Receiver::start();
    let server = json_server(&env, &receiver);
    let work = env.work("widgets");
    let root = env.commit(
        &work,
        &[
            ("src/lib.rs", Some("fn main() {}\n")),
            ("README", Some("hi\n")),
        ],
        "Initial import\n\nLonger text.",
        0,
    );
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(push.remote_lines(), vec!["ci (post): delivered (HTTP 200)"]);

    let request = receiver.only();
    let payload = request.json();
    let delivery = payload["delivery"]
        .as_str()
        .expect("delivery id")
        .to_string();
    assert_eq!(request.header("X-Pushbroker-Delivery"), delivery);
    assert!(uuid_like(&delivery), "{delivery}");
    assert!(
        payload["pushed_at"]
            .as_str()
            .expect("pushed_at")
            .ends_with('Z')
    );
    assert!(payload.get("broker").is_none() && payload.get("service").is_none());
    let expected = json!({
        "canon_url": "https://code.example.com",
        "user": "alice",
        "repository": {
            "absolute_url": "/acme/widgets/", "fork": false, "is_private": true,
            "name": "widgets", "owner": "acme", "scm": "git", "slug": "widgets",
            "website": "https://code.example.com/acme/widgets"
        },
        "commits": [{
            "author": "Alice Example",
            "branch": "main",
            "files": [{"file": "README", "type": "added"}, {"file": "src/lib.rs", "type": "added"}],
            "message": "Initial import\n\nLonger text.\n",
            "node": short(&root),
            "parents": [],
            "raw_author": "Alice Example <alice@example.com>",
            "raw_node": root,
            "revision": null,
            "size": -1,
            "timestamp": "2026-11-27 10:00:00",
            "utctimestamp": "2026-11-27 09:00:00+00:00",
            "url": format!("https://code.example.com/acme/widgets/commits/{root}")
        }],
        "truncated": false,
        "total_commits": 1,
        "refs": [{
            "ref": "refs/heads/main", "name": "main", "kind": "branch",
            "old": null, "new": root, "created": true, "deleted": false, "forced": false
        }],
        "delivery": delivery,
        "pushed_at": payload["pushed_at"],
    });
    assert_eq!(payload, expected);
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[test]
fn multi_commit_push_lists_commits_oldest_first_with_file_changes() {
    let (env, receiver, server, work) = widgets();
    let base = env.commit(
        &work,
        &[("a.txt", Some("a\n")), ("b.txt", Some("b\n"))],
        "base",
        0,
    );
    env.push(&work, &server, &["main"]);
    let first = env.commit(&work, &[("a.txt", Some("a2\n"))], "modify a", 1);
    let second = env.commit(
        &work,
        &[("b.txt", None), ("c.txt", Some("c\n"))],
        "remove b, add c",
        2,
    );
    env.push(&work, &server, &["main"]);

    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![first.clone(), second.clone()]);
    assert_eq!(payload["total_commits"], 2);
    let commits = &payload["commits"];
    assert_eq!(commits[0]["parents"], json!([short(&base)]));
    assert_eq!(commits[1]["parents"], json!([short(&first)]));
    assert_eq!(
        commits[0]["files"],
        json!([{"file": "a.txt", "type": "modified"}])
    );
    assert_eq!(
        commits[1]["files"],
        json!([{"file": "b.txt", "type": "removed"}, {"file": "c.txt", "type": "added"}])
    );
    assert_eq!(commits[1]["timestamp"], "2026-11-27 10:02:00");
    let reference = &payload["refs"][0];
    assert_eq!(reference["old"], json!(base));
    assert_eq!(reference["new"], json!(second));
    assert_eq!(
        (
            reference["created"].as_bool(),
            reference["forced"].as_bool()
        ),
        (Some(false), Some(false))
    );
}

#[test]
fn two_branches_sharing_new_commits_list_each_commit_once() {
    let (env, receiver, server, work) = widgets();
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let shared = env.commit(&work, &[("a", Some("2"))], "shared", 1);
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let only_feature = env.commit(&work, &[("b", Some("1"))], "feature only", 2);
    env.push(&work, &server, &["main", "feature"]);

    let payload = receiver.last_json();
    assert_eq!(receiver.requests().len(), 2, "one delivery per push");
    assert_eq!(nodes(&payload), vec![shared.clone(), only_feature.clone()]);
    assert_eq!(
        payload["commits"][0]["branch"], "main",
        "attributed to the first branch that reaches it"
    );
    assert_eq!(payload["commits"][1]["branch"], "feature");
    let names: Vec<&str> = payload["refs"]
        .as_array()
        .expect("refs")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"main") && names.contains(&"feature"));
}

#[test]
fn branch_created_at_an_existing_commit_brings_no_commits() {
    let (env, receiver, server, work) = widgets();
    let head = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    env.push(&work, &server, &["main:refs/heads/copy"]);

    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(payload["total_commits"], 0);
    assert_eq!(
        payload["refs"],
        json!([{"ref": "refs/heads/copy", "name": "copy", "kind": "branch", "old": null,
                "new": head, "created": true, "deleted": false, "forced": false}])
    );
}

#[test]
fn branch_at_a_commit_only_a_remote_ref_reached_brings_no_commits() {
    let (env, receiver, server, work) = widgets();
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    let mirrored = env.commit(&work, &[("a", Some("2"))], "mirrored", 1);
    // A mirror-style ref outside refs/heads brings the commit first…
    env.push(&work, &server, &["main:refs/remotes/upstream/main"]);
    let first = receiver.last_json();
    assert_eq!(first["refs"][0]["kind"], "other");
    assert_eq!(first["refs"][0]["name"], "refs/remotes/upstream/main");
    assert_eq!(
        first["commits"][1]["branch"],
        Value::Null,
        "only a non-branch ref reaches it"
    );
    // …so a branch created there later brings nothing new.
    env.push(&work, &server, &["main:refs/heads/main"]);
    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(payload["refs"][0]["new"], json!(mirrored));
}

#[test]
fn deletion_lists_the_ref_and_no_commits() {
    let (env, receiver, server, work) = widgets();
    let head = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main", "main:refs/heads/old"]);
    env.push(&work, &server, &[":refs/heads/old"]);

    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(
        payload["refs"],
        json!([{"ref": "refs/heads/old", "name": "old", "kind": "branch", "old": head,
                "new": null, "created": false, "deleted": true, "forced": false,
                "discarded": {"commits": [{"node": &head[..12], "raw_node": head,
                "summary": "base"}], "total": 1}}])
    );
}

#[test]
fn force_push_is_forced_and_lists_only_really_new_commits() {
    let (env, receiver, server, work) = widgets();
    let base = env.commit(&work, &[("a", Some("1"))], "base", 0);
    let discarded = env.commit(&work, &[("a", Some("2"))], "discarded", 1);
    env.push(&work, &server, &["main"]);
    env.git(&work, &["reset", "--quiet", "--hard", &base]).ok();
    let replacement = env.commit(&work, &[("a", Some("3"))], "replacement", 2);
    env.push(&work, &server, &["+main"]);

    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![replacement.clone()]);
    assert_eq!(payload["refs"][0]["forced"], true);
    assert_eq!(payload["refs"][0]["old"], json!(discarded));

    // The discarded commit comes back: it is new again.
    env.push(&work, &server, &[&format!("+{discarded}:refs/heads/main")]);
    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![discarded]);
    assert_eq!(payload["refs"][0]["forced"], true);
}

#[test]
fn merging_an_existing_branch_brings_only_the_merge_commit() {
    let (env, receiver, server, work) = widgets();
    let base = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.git(&work, &["checkout", "--quiet", "-b", "topic"]).ok();
    let topic = env.commit(&work, &[("t", Some("1"))], "topic work", 1);
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    let main2 = env.commit(&work, &[("a", Some("2"))], "main work", 2);
    env.push(&work, &server, &["main", "topic"]);
    env.git(&work, &["merge", "--quiet", "--no-edit", "topic"])
        .ok();
    let merge = env.git_out(&work, &["rev-parse", "HEAD"]);
    env.push(&work, &server, &["main"]);

    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![merge.clone()]);
    assert_eq!(
        payload["commits"][0]["parents"],
        json!([short(&main2), short(&topic)])
    );
    assert_eq!(
        payload["commits"][0]["files"],
        json!([{"file": "t", "type": "added"}]),
        "against the first parent"
    );
    assert_ne!(base, merge);
}

#[test]
fn lightweight_and_annotated_tags_are_listed_without_commits() {
    let (env, receiver, server, work) = widgets();
    let head = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    env.git(&work, &["tag", "light"]).ok();
    env.git(&work, &["tag", "-a", "-m", "release 1.0", "v1.0"])
        .ok();
    let tag_object = env.git_out(&work, &["rev-parse", "v1.0"]);
    env.push(&work, &server, &["light", "v1.0"]);

    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(
        payload["refs"],
        json!([
            {"ref": "refs/tags/light", "name": "light", "kind": "tag", "old": null, "new": head,
             "created": true, "deleted": false, "forced": false},
            {"ref": "refs/tags/v1.0", "name": "v1.0", "kind": "tag", "old": null, "new": tag_object,
             "created": true, "deleted": false, "forced": false},
        ])
    );
}

#[test]
fn a_tag_on_a_new_commit_brings_it_without_a_branch() {
    let (env, receiver, server, work) = widgets();
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let tagged = env.commit(&work, &[("a", Some("2"))], "tagged only", 1);
    env.git(&work, &["tag", "-a", "-m", "rc", "v2.0-rc"]).ok();
    // A tag that points at a tree is listed and otherwise ignored.
    let tree = env.git_out(&work, &["rev-parse", "HEAD^{tree}"]);
    env.push(
        &work,
        &server,
        &["v2.0-rc", &format!("{tree}:refs/tags/tree")],
    );

    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![tagged]);
    assert_eq!(payload["commits"][0]["branch"], Value::Null);
    assert_eq!(payload["refs"].as_array().expect("refs").len(), 2);
    assert_eq!(payload["refs"][1]["new"], json!(tree));
}

#[test]
fn max_commits_keeps_the_newest_and_reports_the_true_count() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nurl = \"{}\"\nformat = \"json\"\nmax_commits = 2\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    let ids: Vec<String> = (0..5)
        .map(|n| env.commit(&work, &[("f", Some(&n.to_string()))], &format!("c{n}"), n))
        .collect();
    env.push(&work, &server, &["main"]);

    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), ids[3..].to_vec());
    assert_eq!(payload["truncated"], true);
    assert_eq!(payload["total_commits"], 5);
}

#[test]
fn capped_and_uncapped_payloads_agree_on_the_commits_they_share() {
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let work = env.work("widgets");
    for n in 0..30 {
        env.commit(
            &work,
            &[
                (&format!("d{}/f{n}", n % 3), Some("x")),
                ("shared", Some(&n.to_string())),
            ],
            &format!("c{n}"),
            n,
        );
    }
    env.push(&work, &server, &["main"]);
    let zero = "0".repeat(40);
    let payload = |cap: &str| -> Value {
        let run = env
            .pushbroker(
                &server,
                &[
                    "payload",
                    "--max-commits",
                    cap,
                    &zero,
                    "main",
                    "refs/heads/main",
                ],
            )
            .success();
        serde_json::from_str(&run.stdout).expect("json")
    };
    let (all, capped) = (payload("0"), payload("10"));
    let all_commits = all["commits"].as_array().expect("commits");
    assert_eq!(all_commits.len(), 30);
    assert_eq!(all["truncated"], false);
    assert_eq!(capped["truncated"], true);
    assert_eq!(capped["total_commits"], 30);
    assert_eq!(
        capped["commits"].as_array().expect("commits")[..],
        all_commits[20..]
    );
}

#[test]
fn a_push_of_many_tags_reports_every_one() {
    let (env, receiver, server, work) = widgets();
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let mut input = String::new();
    let head = env.git_out(&work, &["rev-parse", "HEAD"]);
    for n in 0..300 {
        input.push_str(&format!("create refs/tags/t{n:03} {head}\n"));
    }
    let mut child = env
        .command("git")
        .current_dir(&work)
        .args(["update-ref", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("update-ref");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
    env.push(&work, &server, &["refs/tags/*:refs/tags/*"]);
    let payload = receiver.last_json();
    let refs = payload["refs"].as_array().expect("refs");
    assert_eq!(refs.len(), 300, "nothing dropped");
    assert!(
        refs.iter()
            .all(|r| r["kind"] == "tag" && r["created"] == true && r["new"] == head.as_str())
    );
    assert_eq!(payload["commits"], json!([]));
}

#[test]
fn a_commit_only_a_packed_annotated_tag_reaches_is_not_new_on_a_branch() {
    let (env, receiver, server, work) = widgets();
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let tagged = env.commit(&work, &[("a", Some("2"))], "tagged", 1);
    env.git(&work, &["tag", "-a", "-m", "release 2.0", "v2.0"])
        .ok();
    env.push(&work, &server, &["v2.0"]);
    assert_eq!(nodes(&receiver.last_json()), vec![tagged.clone()]);
    // The tag now lives in packed-refs, with its peeled `^` line and no loose file…
    env.git(&server, &["pack-refs", "--all"]).ok();
    assert!(!server.join("refs/tags/v2.0").exists());
    let packed = std::fs::read_to_string(server.join("packed-refs")).expect("packed-refs");
    assert!(packed.contains(&format!("^{tagged}")), "{packed}");
    // …and still hides the commit it names from a branch that reaches it later.
    let after = env.commit(&work, &[("a", Some("3"))], "after", 2);
    env.push(&work, &server, &["main"]);
    let payload = receiver.last_json();
    assert_eq!(nodes(&payload), vec![after]);
    assert_eq!(payload["total_commits"], 1);
    assert_eq!(payload["refs"][0]["forced"], false);
}
