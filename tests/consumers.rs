//! Real consumers fed pushbroker's real deliveries: Buildbot 4.3's www change hooks
//! (github with a secret in strict mode, gitlab with a token, bitbucket), run in-process
//! by tests/python/buildbot_hooks.py the way Buildbot's own unit tests drive them. What
//! Buildbot understood of each delivery (author, committer, revision, branch, files,
//! comments, revlink, category, repository, project, when) is compared with git's own
//! view of each commit. Each push's Teams card goes to Microsoft's `adaptivecards` SDK
//! (rendered in jsdom with markdown-it, as Teams does), which must accept it and show
//! each changeset's line exactly as git has its id, subject and author.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::TestEnv;
use crate::util::http::{Received, Receiver};

const SITE: &str = "https://code.example.com";

/// The Python of tests/.venv, where `install.sh --deps` put Buildbot 4.3.
fn buildbot_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.venv/bin/python");
    assert!(
        python.is_file(),
        "tests/.venv with Buildbot is missing: run ./install.sh --deps"
    );
    python
}

/// Each delivery's dialect: which service's path it was posted to.
fn dialect(request: &Received) -> &'static str {
    match request.url.as_str() {
        "/github" => "github",
        "/gitlab" => "gitlab",
        "/bitbucket" => "bitbucket",
        "/teams" => "teams",
        other => panic!("a delivery to an unknown path {other}"),
    }
}

/// Runs Buildbot's hooks over `requests`; one result per request.
fn buildbot(env: &TestEnv, requests: &[Received]) -> Vec<Value> {
    let deliveries: Vec<Value> = requests
        .iter()
        .map(|request| {
            let options = match dialect(request) {
                "github" => json!({"secret": "gh-s3cret", "strict": true}),
                "gitlab" => json!({"secret": "gl-t0ken"}),
                _ => json!({}),
            };
            let headers: serde_json::Map<String, Value> = request
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect();
            json!({"dialect": dialect(request), "options": options, "headers": headers, "body": request.body_text()})
        })
        .collect();
    let file = env.path("deliveries.json");
    std::fs::write(&file, serde_json::to_vec(&deliveries).expect("json")).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/buildbot_hooks.py");
    let output = std::process::Command::new(buildbot_python())
        .arg(script)
        .arg(&file)
        .output()
        .expect("run Buildbot's hooks");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the hooks' JSON")
}

/// One change git says Buildbot should have made: a revision on a branch.
struct Expected {
    dialect: &'static str,
    revision: String,
    branch: Option<&'static str>,
    tag: bool,
}

fn expect(
    dialect: &'static str,
    revision: &str,
    branch: Option<&'static str>,
    tag: bool,
) -> Expected {
    Expected {
        dialect,
        revision: revision.to_string(),
        branch,
        tag,
    }
}

/// Pushes `refspecs` (with `extra` git push options), feeds the deliveries to Buildbot,
/// and checks every change it made against git and `expected`, in order per dialect.
fn check_push(
    env: &TestEnv,
    receiver: &Receiver,
    (work, server): (&Path, &Path),
    case: &str,
    refspecs: &[&str],
    expected: &[Expected],
) {
    let before = receiver.requests().len();
    let mut args = vec!["push", "--quiet", server.to_str().expect("utf-8 path")];
    args.extend_from_slice(refspecs);
    env.git(work, &args).success();
    let (teams, requests): (Vec<Received>, Vec<Received>) = receiver
        .requests()
        .into_iter()
        .skip(before)
        .partition(|request| dialect(request) == "teams");
    check_teams(env, server, case, &teams, &requests);
    let results = buildbot(env, &requests);
    let mut changes: Vec<(&str, &Value)> = Vec::new();
    for (request, result) in requests.iter().zip(&results) {
        assert_eq!(
            result["ok"],
            true,
            "{case}: {} refused: {result}",
            dialect(request)
        );
        assert_eq!(result["scm"], "git", "{case}");
        for change in result["changes"].as_array().expect("changes") {
            changes.push((dialect(request), change));
        }
    }
    for name in ["github", "gitlab", "bitbucket"] {
        let mut got: Vec<&Value> = changes
            .iter()
            .filter(|(dialect, _)| *dialect == name)
            .map(|(_, change)| *change)
            .collect();
        let mut wanted: Vec<&Expected> = expected.iter().filter(|e| e.dialect == name).collect();
        if name != "bitbucket" {
            // One delivery per ref, sent in parallel: compared ref by ref, each in order.
            got.sort_by_key(|change| change["branch"].as_str().unwrap_or("").to_string());
            wanted.sort_by_key(|e| e.branch.unwrap_or(""));
        }
        let revisions = |list: &[&Value]| -> Vec<String> {
            list.iter()
                .map(|c| c["revision"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(
            revisions(&got),
            wanted
                .iter()
                .map(|e| e.revision.clone())
                .collect::<Vec<_>>(),
            "{case}: {name}'s changes"
        );
        for (change, wanted) in got.iter().zip(&wanted) {
            check_change(env, server, case, name, change, wanted);
        }
    }
}

/// The push's one Teams card: the SDK accepts it, and after the headline it shows one
/// line per changeset the bitbucket delivery lists, `<id> <subject> — <author>` as git
/// has them.
fn check_teams(env: &TestEnv, server: &Path, case: &str, teams: &[Received], others: &[Received]) {
    assert_eq!(teams.len(), 1, "{case}: one Teams card");
    let rendered = &crate::util::teams::render_teams(env, &[teams[0].json()])[0];
    assert_eq!(rendered["errors"], json!([]), "{case}: {rendered}");
    let bitbucket = others
        .iter()
        .find(|request| dialect(request) == "bitbucket")
        .expect("the bitbucket delivery")
        .json();
    let mut expected: Vec<String> = bitbucket["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|commit| {
            let id = commit["raw_node"].as_str().expect("raw_node");
            env.git_out(
                server,
                &["log", "-1", "--abbrev=12", "--format=%h %s — %an", id],
            )
        })
        .collect();
    let texts: Vec<String> = rendered["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|text| text.as_str().expect("text").to_string())
        .collect();
    assert!(
        !texts.is_empty() && !texts[0].is_empty(),
        "{case}: a headline"
    );
    if texts.len() > expected.len() + 1 {
        expected.push(texts[texts.len() - 1].clone()); // an "and N more" line
    }
    assert_eq!(texts[1..], expected[..], "{case}: the Teams card's lines");
}

/// One Buildbot change against git's view of its revision.
fn check_change(
    env: &TestEnv,
    server: &Path,
    case: &str,
    dialect: &str,
    change: &Value,
    wanted: &Expected,
) {
    let id = wanted.revision.as_str();
    let show =
        |format: &str| env.git_out(server, &["log", "-1", &format!("--format={format}"), id]);
    let raw = env.git_out(server, &["cat-file", "commit", id]);
    let message = format!(
        "{}\n",
        raw.split_once("\n\n").map_or("", |(_, message)| message)
    );
    let parents = show("%P");
    let files_out = match parents.split_whitespace().next() {
        Some(first) => env.git_out(server, &["diff", "--name-only", "-z", first, id]),
        None => env.git_out(
            server,
            &[
                "diff-tree",
                "-r",
                "--root",
                "--no-commit-id",
                "--name-only",
                "-z",
                id,
            ],
        ),
    };
    let mut files: Vec<&str> = files_out.split('\0').filter(|f| !f.is_empty()).collect();
    files.sort();
    let mut got_files: Vec<&str> = change["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("path"))
        .collect();
    got_files.sort();
    let context = format!("{case}: {dialect} change {id}");
    assert_eq!(change["author"], show("%an <%ae>"), "{context}: author");
    assert_eq!(got_files, files, "{context}: files");
    assert_eq!(change["comments"], message, "{context}: comments");
    assert_eq!(
        change["when"],
        show("%at").parse::<i64>().expect("time"),
        "{context}: when"
    );
    assert_eq!(
        change["revlink"],
        format!("{SITE}/acme/widgets/commits/{id}"),
        "{context}: revlink"
    );
    assert_eq!(change["branch"], json!(wanted.branch), "{context}: branch");
    let (repository, project, category) = match dialect {
        "github" => (
            format!("{SITE}/acme/widgets"),
            "acme/widgets",
            json!(wanted.tag.then_some("tag")),
        ),
        "gitlab" => (
            "git@code.example.com:acme/widgets.git".to_string(),
            "widgets",
            json!(if wanted.tag { "tag_push" } else { "push" }),
        ),
        _ => (format!("{SITE}/acme/widgets/"), "", Value::Null),
    };
    assert_eq!(change["repository"], repository, "{context}: repository");
    assert_eq!(change["project"], project, "{context}: project");
    assert_eq!(
        change.get("category").cloned().unwrap_or(Value::Null),
        category,
        "{context}: category"
    );
    if dialect == "github" {
        assert_eq!(
            change["committer"],
            show("%cn <%ce>"),
            "{context}: committer"
        );
    }
}

/// A commit by Bob, committed by Carol, at offsets that are not UTC.
fn commit_as_others(env: &TestEnv, work: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, content) in files {
        let full = work.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("dirs");
        std::fs::write(&full, content).expect("write");
        env.git(work, &["add", path]).ok();
    }
    env.command("git")
        .current_dir(work)
        .env("GIT_AUTHOR_NAME", "Bob Ünsal")
        .env("GIT_AUTHOR_EMAIL", "bob@example.org")
        .env("GIT_AUTHOR_DATE", "2026-11-27T15:30:00+05:30")
        .env("GIT_COMMITTER_NAME", "Carol Committer")
        .env("GIT_COMMITTER_EMAIL", "carol@example.net")
        .env("GIT_COMMITTER_DATE", "2026-11-27T03:15:00-07:00")
        .args(["commit", "--quiet", "-m", message])
        .status()
        .expect("git commit");
    env.git_out(work, &["rev-parse", "HEAD"])
}

#[test]
fn buildbots_github_gitlab_and_bitbucket_hooks_understand_every_kind_of_push() {
    let mut env = TestEnv::new();
    env.set_env("GH_SECRET", "gh-s3cret");
    env.set_env("GL_TOKEN", "gl-t0ken");
    env.grant_env("GH_SECRET");
    env.grant_env("GL_TOKEN");
    env.write_site(&format!("canon_url = \"{SITE}\"\n"));
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\nsecret = \"env:GH_SECRET\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"gl\"\nurl = \"{}\"\nformat = \"gitlab\"\nsecret = \"env:GL_TOKEN\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"bb\"\nurl = \"{}\"\n\n\
         [[service]]\nbroker = \"msteams\"\nname = \"teams\"\nurl = \"{}\"\n",
        receiver.url("/github"),
        receiver.url("/gitlab"),
        receiver.url("/bitbucket"),
        receiver.url("/teams"),
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    let at = (work.as_path(), server.as_path());
    let all = |id: &str, branch: &'static str| {
        vec![
            expect("github", id, Some(branch), false),
            expect("gitlab", id, Some(branch), false),
            expect("bitbucket", id, Some(branch), false),
        ]
    };

    // A root commit, author ≠ committer, offsets that are not UTC, paths with spaces
    // and non-ASCII characters.
    let root = commit_as_others(
        &env,
        &work,
        &[
            ("docs/read me.txt", "1"),
            ("naïve/ü ber.rs", "2"),
            ("gone.txt", "3"),
        ],
        "Root &amp; <first> **one** {{DATE(2017-02-14T06:08:39Z, SHORT)}}\n\nWith a body & <markup>.",
    );
    check_push(
        &env,
        &receiver,
        at,
        "root commit",
        &["main"],
        &all(&root, "main"),
    );

    // Add, modify, remove.
    let change = env.commit(
        &work,
        &[
            ("docs/read me.txt", Some("2")),
            ("gone.txt", None),
            ("new file ñ.txt", Some("n")),
        ],
        "Add, modify, remove",
        1,
    );
    check_push(
        &env,
        &receiver,
        at,
        "add/modify/remove",
        &["main"],
        &all(&change, "main"),
    );

    // A branch created at an existing commit: GitHub (and so Buildbot) reports its head.
    check_push(
        &env,
        &receiver,
        at,
        "branch at an existing commit",
        &["main:refs/heads/release"],
        &[expect("github", &change, Some("release"), false)],
    );

    // A lightweight tag on an existing commit.
    env.git(&work, &["tag", "v1"]).ok();
    check_push(
        &env,
        &receiver,
        at,
        "lightweight tag",
        &["v1"],
        &[expect("github", &change, Some("v1"), true)],
    );

    // An annotated tag on an existing commit.
    env.git(&work, &["tag", "-a", "-m", "Release 1.1", "v1.1"])
        .ok();
    check_push(
        &env,
        &receiver,
        at,
        "annotated tag, existing commit",
        &["v1.1"],
        &[expect("github", &change, Some("v1.1"), true)],
    );

    // An annotated tag on a new commit that no branch brings.
    env.git(&work, &["checkout", "--quiet", "-b", "side"]).ok();
    let tagged = env.commit(&work, &[("side.txt", Some("s"))], "Only the tag has me", 2);
    env.git(&work, &["tag", "-a", "-m", "Release 2", "v2"]).ok();
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    check_push(
        &env,
        &receiver,
        at,
        "annotated tag, new commit",
        &["v2"],
        &[
            expect("github", &tagged, Some("v2"), true),
            expect("gitlab", &tagged, Some("v2"), true),
            expect("bitbucket", &tagged, None, false),
        ],
    );

    // A lightweight tag on a new commit that no branch brings.
    env.git(&work, &["checkout", "--quiet", "-b", "side2", "main"])
        .ok();
    let light = env.commit(
        &work,
        &[("side2.txt", Some("t"))],
        "Only the light tag has me",
        2,
    );
    env.git(&work, &["tag", "v3"]).ok();
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    check_push(
        &env,
        &receiver,
        at,
        "lightweight tag, new commit",
        &["v3"],
        &[
            expect("github", &light, Some("v3"), true),
            expect("gitlab", &light, Some("v3"), true),
            expect("bitbucket", &light, None, false),
        ],
    );

    // Two branches in one push, one of them new.
    let on_main = env.commit(&work, &[("a.txt", Some("main"))], "Main moves on", 3);
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let on_feature = env.commit(&work, &[("f.txt", Some("f"))], "Feature work", 4);
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    check_push(
        &env,
        &receiver,
        at,
        "two branches",
        &["main", "feature"],
        &[
            expect("github", &on_main, Some("main"), false),
            expect("github", &on_feature, Some("feature"), false),
            expect("gitlab", &on_main, Some("main"), false),
            expect("gitlab", &on_feature, Some("feature"), false),
            expect("bitbucket", &on_main, Some("main"), false),
            expect("bitbucket", &on_feature, Some("feature"), false),
        ],
    );

    // A --no-ff merge of a topic with a commit of its own.
    env.git(&work, &["checkout", "--quiet", "-b", "topic"]).ok();
    let on_topic = env.commit(&work, &[("t.txt", Some("t"))], "Topic work", 5);
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    env.command("git")
        .current_dir(&work)
        .env("GIT_AUTHOR_DATE", "2026-11-27T10:06:00+01:00")
        .env("GIT_COMMITTER_DATE", "2026-11-27T10:06:00+01:00")
        .args(["merge", "--quiet", "--no-ff", "-m", "Merge topic", "topic"])
        .status()
        .expect("merge");
    let merge = env.git_out(&work, &["rev-parse", "HEAD"]);
    let mut merged = all(&on_topic, "main");
    merged.extend(all(&merge, "main"));
    merged.sort_by_key(|e| e.dialect);
    check_push(&env, &receiver, at, "--no-ff merge", &["main"], &merged);

    // A force push.
    env.git(&work, &["reset", "--quiet", "--hard", &on_main])
        .ok();
    let rewritten = env.commit(&work, &[("a.txt", Some("again"))], "Rewritten", 7);
    check_push(
        &env,
        &receiver,
        at,
        "force push",
        &["+main"],
        &all(&rewritten, "main"),
    );

    // A deletion: no change, and no error.
    check_push(
        &env,
        &receiver,
        at,
        "deletion",
        &[":refs/heads/release"],
        &[],
    );
}
