//! Mercurial: real `hg push` into repositories where `pushbroker install` put the hook.

use serde_json::{Value, json};

use crate::util::http::Receiver;
use crate::util::{TestEnv, free_port, post_json, short};

fn push(env: &TestEnv, work: &std::path::Path, target: &str, args: &[&str]) -> crate::util::Run {
    let mut all = vec!["push", target];
    all.extend_from_slice(args);
    let run = env.hg(work, &all);
    // hg push exits 1 when there was nothing to push; anything else is a failure.
    assert!(
        run.status == 0 || run.status == 1,
        "hg push failed: {}",
        run.stderr
    );
    run
}

fn remote_lines(run: &crate::util::Run) -> Vec<String> {
    format!("{}{}", run.stdout, run.stderr)
        .lines()
        .filter_map(|line| {
            line.strip_prefix("remote: pushbroker: ")
                .or_else(|| line.strip_prefix("pushbroker: "))
        })
        .map(|line| line.trim_end().to_string())
        .collect()
}

#[test]
fn first_push_is_revision_zero_with_all_files_added() {
    let env = TestEnv::new();
    env.write_site("canon_url = \"https://hg.example.com\"\n");
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.hg_work("gadgets");
    let root = env.hg_commit(
        &work,
        &[
            ("src/main.py", Some("print(1)\n")),
            ("README", Some("hi\n")),
        ],
        "Initial import\n\nLonger text.",
        0,
    );
    let run = push(&env, &work, server.to_str().expect("path"), &[]);
    assert_eq!(remote_lines(&run), vec!["ci (post): delivered (HTTP 200)"]);
    let payload = receiver.only().json();
    let expected_commit = json!({
        "author": "Alice Example", "branch": "default",
        "files": [{"file": "README", "type": "added"}, {"file": "src/main.py", "type": "added"}],
        "message": "Initial import\n\nLonger text.", "node": short(&root), "parents": [],
        "raw_author": "Alice Example <alice@example.com>", "raw_node": root, "revision": 0, "size": -1,
        "timestamp": "2026-11-27 10:00:00", "utctimestamp": "2026-11-27 09:00:00+00:00",
        "url": format!("https://hg.example.com/acme/gadgets/commits/{root}")
    });
    assert_eq!(payload["commits"], json!([expected_commit]));
    assert_eq!(payload["repository"]["scm"], "hg");
    assert_eq!(payload["repository"]["name"], "gadgets");
    assert_eq!(payload["user"], "alice");
    assert_eq!(
        payload["refs"],
        json!([{"ref": "default", "name": "default", "kind": "branch", "old": null, "new": root, "created": true, "deleted": false, "forced": false}])
    );
    assert_eq!(payload["total_commits"], 1);
}

#[test]
fn a_multi_changeset_push_lists_revisions_in_order_with_file_changes() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.hg_work("gadgets");
    let base = env.hg_commit(&work, &[("a", Some("1")), ("b", Some("1"))], "base", 0);
    push(&env, &work, server.to_str().expect("path"), &[]);
    let one = env.hg_commit(&work, &[("a", Some("2"))], "modify a", 1);
    let two = env.hg_commit(
        &work,
        &[("b", None), ("c", Some("1"))],
        "remove b, add c",
        2,
    );
    push(&env, &work, server.to_str().expect("path"), &[]);
    let payload = receiver.last_json();
    let commits = payload["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), 2);
    assert_eq!(
        (
            commits[0]["revision"].as_u64(),
            commits[1]["revision"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(commits[0]["raw_node"], one.as_str());
    assert_eq!(commits[0]["parents"], json!([short(&base)]));
    assert_eq!(commits[1]["parents"], json!([short(&one)]));
    assert_eq!(
        commits[0]["files"],
        json!([{"file": "a", "type": "modified"}])
    );
    assert_eq!(
        commits[1]["files"],
        json!([{"file": "b", "type": "removed"}, {"file": "c", "type": "added"}])
    );
    assert_eq!(payload["refs"][0]["old"], json!(base));
    assert_eq!(payload["refs"][0]["new"], json!(two));
    assert_eq!(payload["refs"][0]["created"], false);
}

#[test]
fn a_new_named_branch_passes_a_branch_filter_and_a_merge_has_two_parents() {
    let env = TestEnv::new();
    let all = Receiver::start();
    let stable_only = Receiver::start();
    let server = env.hg_server(
        "acme",
        "gadgets",
        &format!(
            "{}\n[[service]]\nbroker = \"post\"\nname = \"stable\"\nurl = \"{}\"\nformat = \"json\"\nbranches = [\"stable\"]\n",
            post_json("ci", &all.url("/"), ""),
            stable_only.url("/")
        ),
    );
    let work = env.hg_work("gadgets");
    env.hg_commit(&work, &[("a", Some("1"))], "base", 0);
    let run = push(&env, &work, server.to_str().expect("path"), &[]);
    assert!(
        remote_lines(&run).contains(
            &"stable (post): skipped: no pushed ref matches its branches filter".to_string()
        ),
        "{:?}",
        remote_lines(&run)
    );
    env.hg(&work, &["branch", "stable"]).ok();
    let on_stable = env.hg_commit(&work, &[("s", Some("1"))], "start stable", 1);
    push(
        &env,
        &work,
        server.to_str().expect("path"),
        &["--new-branch"],
    );
    let payload = stable_only.only().json();
    assert_eq!(payload["commits"][0]["branch"], "stable");
    assert_eq!(
        payload["refs"],
        json!([{"ref": "stable", "name": "stable", "kind": "branch", "old": null, "new": on_stable, "created": true, "deleted": false, "forced": false}])
    );

    env.hg(&work, &["update", "--quiet", "default"]).ok();
    let default_tip = env.hg_commit(&work, &[("d", Some("1"))], "default work", 2);
    env.hg(&work, &["merge", "--quiet", "stable"]).ok();
    let merge = env.hg_commit(&work, &[], "Merge stable", 3);
    push(&env, &work, server.to_str().expect("path"), &[]);
    let payload = all.last_json();
    let merged = payload["commits"]
        .as_array()
        .expect("commits")
        .last()
        .expect("merge")
        .clone();
    assert_eq!(merged["raw_node"], merge.as_str());
    assert_eq!(
        merged["parents"],
        json!([short(&default_tip), short(&on_stable)])
    );
    assert_eq!(
        merged["files"],
        json!([{"file": "s", "type": "added"}]),
        "against the first parent"
    );
}

#[test]
fn bookmarks_are_reported_with_changesets_and_alone() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.hg_work("gadgets");
    env.hg_commit(&work, &[("a", Some("1"))], "base", 0);
    let feature = env.hg_commit(&work, &[("a", Some("2"))], "feature work", 1);
    env.hg(&work, &["bookmark", "feature"]).ok();
    push(
        &env,
        &work,
        server.to_str().expect("path"),
        &["-B", "feature"],
    );
    let payload = receiver.last_json();
    assert_eq!(payload["commits"].as_array().expect("commits").len(), 2);
    let refs = payload["refs"].as_array().expect("refs");
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert_eq!(
        refs[1],
        json!({"ref": "feature", "name": "feature", "kind": "bookmark", "old": null, "new": feature, "created": true, "deleted": false, "forced": false})
    );

    // A push that only moves a bookmark: one event, with the exact old value.
    let before = receiver.requests().len();
    env.hg(&work, &["bookmark", "--force", "-r", "0", "feature"])
        .ok();
    let base = env.hg_out(&work, &["log", "-r", "0", "-T", "{node}"]);
    let run = push(
        &env,
        &work,
        server.to_str().expect("path"),
        &["-B", "feature"],
    );
    assert_eq!(remote_lines(&run), vec!["ci (post): delivered (HTTP 200)"]);
    assert_eq!(receiver.requests().len(), before + 1);
    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(
        payload["refs"],
        json!([{"ref": "feature", "name": "feature", "kind": "bookmark", "old": feature, "new": base, "created": false, "deleted": false, "forced": false}])
    );
}

#[test]
fn a_push_over_hg_serve_reports_the_serving_user() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let mut hgrc = std::fs::read_to_string(server.join(".hg/hgrc")).expect("hgrc");
    hgrc.push_str("\n[web]\npush_ssl = false\nallow_push = *\n");
    std::fs::write(server.join(".hg/hgrc"), hgrc).expect("hgrc");
    let port = free_port();
    let pid_file = env.path("hg-serve.pid");
    env.hg(
        &server,
        &[
            "serve",
            "-d",
            "-p",
            &port.to_string(),
            "-a",
            "127.0.0.1",
            "--pid-file",
            pid_file.to_str().expect("path"),
        ],
    )
    .success();
    let work = env.hg_work("gadgets");
    let id = env.hg_commit(&work, &[("a", Some("1"))], "over http", 0);
    let run = push(&env, &work, &format!("http://127.0.0.1:{port}/"), &[]);
    let pid = std::fs::read_to_string(&pid_file).expect("pid");
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    assert_eq!(
        remote_lines(&run),
        vec!["ci (post): delivered (HTTP 200)"],
        "{}{}",
        run.stdout,
        run.stderr
    );
    let payload = receiver.only().json();
    assert_eq!(payload["commits"][0]["raw_node"], id.as_str());
    assert_eq!(
        payload["user"], "alice",
        "no REMOTE_USER: the server's USER"
    );
}

#[test]
fn a_non_utf8_author_is_decoded() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.hg_work("gadgets");
    std::fs::write(work.join("a"), "1").expect("file");
    env.hg(&work, &["add", "a"]).ok();
    use std::os::unix::ffi::OsStrExt;
    let author = std::ffi::OsStr::from_bytes(b"Ren\xe9 Latin <rene@example.com>");
    let commit = env
        .command("hg")
        .current_dir(&work)
        .env("HGENCODING", "latin-1")
        .arg("commit")
        .arg("-m")
        .arg(std::ffi::OsStr::from_bytes(b"Caf\xe9 fix"))
        .arg("-u")
        .arg(author)
        .output()
        .expect("hg commit");
    assert!(
        commit.status.success(),
        "{}",
        String::from_utf8_lossy(&commit.stderr)
    );
    push(&env, &work, server.to_str().expect("path"), &[]);
    let payload = receiver.only().json();
    assert_eq!(payload["commits"][0]["author"], "René Latin");
    assert_eq!(
        payload["commits"][0]["raw_author"],
        "René Latin <rene@example.com>"
    );
    assert_eq!(payload["commits"][0]["message"], "Café fix");
}

#[test]
fn install_and_uninstall_keep_the_admins_hgrc() {
    let env = TestEnv::new();
    let server = env.path("srv/acme/gadgets");
    std::fs::create_dir_all(env.path("srv/acme")).expect("dir");
    env.hg(&env.path("srv/acme"), &["init", "gadgets"]).ok();
    let admin = "# managed by the admin\n[ui]\nusername = Admin <admin@example.com>\n\n[hooks]\n# log every push\nchangegroup.log = true\n\n[web]\ndescription = gadgets\n";
    std::fs::write(server.join(".hg/hgrc"), admin).expect("hgrc");
    let run = env.pushbroker(&server, &["install", "."]).success();
    assert!(
        run.stdout.contains("installed the changegroup hook"),
        "{}",
        run.stdout
    );
    let installed = std::fs::read_to_string(server.join(".hg/hgrc")).expect("hgrc");
    let shim = server
        .join(".hg/pushbroker/hook.py")
        .canonicalize()
        .expect("shim");
    assert!(
        installed.contains(&format!(
            "[hooks]\nchangegroup.pushbroker = python:{}:changegroup_hook\n",
            shim.display()
        )),
        "{installed}"
    );
    assert!(
        installed.contains("# log every push\nchangegroup.log = true\n"),
        "{installed}"
    );
    assert!(installed.contains(&format!("[pushbroker]\n# written by `pushbroker install`; `pushbroker uninstall` removes it\nbinary = {}\n", crate::util::BIN)), "{installed}");
    assert_eq!(
        env.hg_out(&server, &["config", "web.description"]),
        "gadgets"
    );
    env.pushbroker(&server, &["install", "."]).ok();
    assert_eq!(
        std::fs::read_to_string(server.join(".hg/hgrc")).expect("hgrc"),
        installed,
        "installing twice changes nothing"
    );
    env.pushbroker(&server, &["uninstall", "."]).ok();
    assert_eq!(
        std::fs::read_to_string(server.join(".hg/hgrc")).expect("hgrc"),
        admin
    );

    let broken = env.path("srv/acme/broken");
    env.hg(&env.path("srv/acme"), &["init", "broken"]).ok();
    std::fs::write(broken.join(".hg/hgrc"), "[hooks\nthis is not ini\n").expect("hgrc");
    let run = env.pushbroker(&broken, &["install", "."]);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.starts_with(
            "pushbroker: .: hg cannot read this repository's config, so it was left unchanged: "
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(broken.join(".hg/hgrc")).expect("hgrc"),
        "[hooks\nthis is not ini\n"
    );
}

#[test]
fn payload_test_and_redeliver_work_on_mercurial() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server(
        "acme",
        "gadgets",
        "[[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\ntimeout = \"never\"\n",
    );
    let work = env.hg_work("gadgets");
    let first = env.hg_commit(&work, &[("a", Some("1"))], "one", 0);
    let second = env.hg_commit(&work, &[("a", Some("2"))], "two", 1);
    let run = push(&env, &work, server.to_str().expect("path"), &[]);
    assert!(
        remote_lines(&run)
            .last()
            .expect("line")
            .starts_with("no service ran; the push is spooled"),
        "{:?}",
        remote_lines(&run)
    );
    std::fs::write(
        server.join(".hg/pushbroker.toml"),
        post_json("ci", &receiver.url("/"), ""),
    )
    .expect("fix");
    let redelivered = env.pushbroker(&server, &["redeliver"]).success();
    assert!(
        redelivered
            .stdout
            .contains("ci (post): delivered (HTTP 200)"),
        "{}",
        redelivered.stdout
    );
    let payload = receiver.only().json();
    let nodes: Vec<&str> = payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["raw_node"].as_str().expect("node"))
        .collect();
    assert_eq!(nodes, vec![first.as_str(), second.as_str()]);

    let printed = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--rev",
                "1",
                "--service",
                "ci",
                "--format",
                "native",
            ],
        )
        .success();
    let payload: Value = serde_json::from_str(&printed.stdout).expect("json");
    assert_eq!(payload["broker"], "post");
    assert_eq!(payload["commits"][0]["raw_node"], second.as_str());
    assert_eq!(payload["commits"][0]["revision"], 1);
    let bad = env.pushbroker(&server, &["payload", "--rev", "nosuchrev"]);
    assert_eq!(bad.status, 1);
    assert!(
        bad.stderr
            .starts_with("pushbroker: error: hg could not read \"nosuchrev\": "),
        "{}",
        bad.stderr
    );

    let tested = env.pushbroker(&server, &["test"]).success();
    assert_eq!(
        tested.stdout,
        "pushbroker: ci (post): delivered (HTTP 200)\n"
    );
    let payload = receiver.last_json();
    assert_eq!(payload["test"], true);
    assert_eq!(payload["commits"][0]["raw_node"], second.as_str());
}

/// Runs `code` in hg's own Python with the server's installed shim loaded as `shim`,
/// `u` a ui and `repo` the server repository; returns (stdout, stderr).
fn run_in_hg(env: &TestEnv, server: &std::path::Path, code: &str) -> (String, String) {
    let script = format!(
        "import importlib.util, sys\n\
         from mercurial import ui as uimod, hg\n\
         spec = importlib.util.spec_from_file_location('shim', {shim:?})\n\
         shim = importlib.util.module_from_spec(spec); spec.loader.exec_module(shim)\n\
         u = uimod.ui.load()\n\
         repo = hg.repository(u, {root:?}.encode())\n\
         {code}\n",
        shim = server.join(".hg/pushbroker/hook.py").display().to_string(),
        root = server.display().to_string(),
    );
    // The python that runs hg, with the mercurial package.
    let python = std::fs::read_to_string("/usr/bin/hg")
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .and_then(|line| line.strip_prefix("#!"))
                .map(|line| line.trim().to_string())
        })
        .unwrap_or_else(|| "/usr/bin/python3".into());
    let run = env
        .command(&python)
        .arg("-c")
        .arg(script)
        .output()
        .expect("python");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    );
    assert!(run.status.success(), "{stderr}");
    (stdout, stderr)
}

#[test]
fn an_unknown_hg_node_is_one_line_and_never_an_exception() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let (stdout, stderr) = run_in_hg(
        &env,
        &server,
        "print('returned', shim.changegroup_hook(u, repo, node=b'ab' * 20))",
    );
    assert_eq!(stdout.trim(), "returned False", "the push is not failed");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("pushbroker: cannot read the pushed changesets ("),
        "{stderr}"
    );
    assert!(receiver.requests().is_empty());
}

#[test]
fn a_push_over_http_names_its_authenticated_user() {
    let env = TestEnv::new();
    let server = env.hg_server("acme", "gadgets", "");
    // hg reports an HTTP pusher only in the hook's url, as remote:<proto>:<address>:<user>.
    let (stdout, _) = run_in_hg(
        &env,
        &server,
        "print(shim._environment(b'remote:https:10.0.0.1:carol%40example.com').get('REMOTE_USER'))\n\
         print(shim._environment(b'remote:http:10.0.0.1:').get('REMOTE_USER'))\n\
         print(shim._environment(b'remote:ssh:10.0.0.1').get('REMOTE_USER'))",
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["carol@example.com", "None", "None"]
    );
}

#[test]
fn bookmark_moves_pushed_while_the_config_is_broken_are_spooled_and_redelivered() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server("acme", "gadgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.hg_work("gadgets");
    let base = env.hg_commit(&work, &[("a", Some("1"))], "base", 0);
    let tip = env.hg_commit(&work, &[("a", Some("2"))], "more", 1);
    env.hg(&work, &["bookmark", "-r", "1", "release"]).ok();
    push(
        &env,
        &work,
        server.to_str().expect("path"),
        &["-B", "release"],
    );
    let before = receiver.requests().len();

    std::fs::write(
        server.join(".hg/pushbroker.toml"),
        "[[service]]\nbroker = \"post\"\n",
    )
    .expect("break the config");
    env.hg(&work, &["bookmark", "--force", "-r", "0", "release"])
        .ok();
    let run = push(
        &env,
        &work,
        server.to_str().expect("path"),
        &["-B", "release"],
    );
    let lines = remote_lines(&run);
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            "no service ran; the push is spooled: fix the config (`pushbroker check`), then run `pushbroker redeliver`"
        ),
        "{lines:?}"
    );
    assert_eq!(receiver.requests().len(), before);

    std::fs::write(
        server.join(".hg/pushbroker.toml"),
        post_json("ci", &receiver.url("/"), ""),
    )
    .expect("fix the config");
    let redelivered = env.pushbroker(&server, &["redeliver"]).success();
    assert!(
        redelivered
            .stdout
            .contains("ci (post): delivered (HTTP 200)"),
        "{}",
        redelivered.stdout
    );
    let payload = receiver.last_json();
    assert_eq!(payload["commits"], json!([]));
    assert_eq!(
        payload["refs"],
        json!([{"ref": "release", "name": "release", "kind": "bookmark", "old": tip, "new": base, "created": false, "deleted": false, "forced": false}])
    );
    let spooled: Vec<_> = crate::util::files_under(&server.join(".hg/pushbroker/spool"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert!(spooled.is_empty(), "{spooled:?}");
}

#[test]
fn a_store_its_group_can_write_gets_a_shim_and_state_the_group_can_use() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    };
    let env = TestEnv::new();
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let server = env.path("srv/acme/shared");
    std::fs::create_dir_all(env.path("srv/acme")).expect("srv");
    env.hg(&env.path("srv/acme"), &["init", "shared"]).ok();
    // A repository several accounts push to: its store is group-writable.
    let store = server.join(".hg/store");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o2770)).expect("chmod");
    env.pushbroker(&server, &["install", "."]).success();
    std::fs::write(
        server.join(".hg/pushbroker.toml"),
        post_json("ci", &dead, ""),
    )
    .expect("config");
    let state = server.join(".hg/pushbroker");
    assert_eq!(mode(&state), 0o2770);
    assert_eq!(
        mode(&state.join("hook.py")),
        0o660,
        "every pusher's hg loads the shim"
    );

    let work = env.hg_work("shared");
    env.hg_commit(&work, &[("a", Some("1"))], "one", 0);
    push(&env, &work, server.to_str().expect("path"), &[]);
    assert_eq!(mode(&state.join("deliveries.jsonl")), 0o660);
    assert_eq!(mode(&state.join("spool")), 0o2770);
}
