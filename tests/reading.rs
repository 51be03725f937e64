//! Reading what a push brought: a long tangled history checked against git's own
//! listing (read on several threads), a shallow server, objects borrowed through
//! alternates.

use serde_json::{Value, json};

use crate::util::http::Receiver;
use crate::util::{TestEnv, post_json, short};

/// A fast-import stream of `count` commits on `main` and `side`, merged now and then,
/// each adding, changing, deleting or retyping (file, executable, symlink, submodule)
/// a few paths (some only changing mode), some of which are a file on one commit and a directory on another.
fn tangled_history(count: u32) -> String {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let dirs = ["", "a/", "a/b/", "a/b/c/", "d/", "e/f/"];
    let names = ["x", "y", "z", "w.txt", "b", "c"];
    let mut stream = String::new();
    let mut tips = [None::<u32>, None::<u32>];
    for n in 0..count {
        let mark = n + 1;
        let side = usize::from(next(3) == 0);
        let message = format!("c{n}\n");
        let time = 1_795_000_000 + u64::from(n) * 60;
        stream.push_str(&format!(
            "commit refs/heads/{}\nmark :{mark}\nauthor A <a@example.com> {time} +0100\n\
             committer A <a@example.com> {time} +0100\ndata {}\n{message}",
            ["main", "side"][side],
            message.len()
        ));
        if let Some(tip) = tips[side] {
            stream.push_str(&format!("from :{tip}\n"));
        }
        if let Some(other) = tips[1 - side].filter(|_| next(8) == 0) {
            stream.push_str(&format!("merge :{other}\n"));
        }
        for _ in 0..=next(3) {
            let path = format!("{}{}", dirs[next(6) as usize], names[next(6) as usize]);
            match next(10) {
                0 | 1 => stream.push_str(&format!("D {path}\n")),
                2 => stream.push_str(&format!("M 160000 {:040x} {path}\n", next(u64::MAX))),
                // The same content under a mode that may differ: a change of mode only.
                3 => stream.push_str(&format!(
                    "M {} inline {path}\ndata 5\nsame\n",
                    ["100644", "100755"][next(2) as usize]
                )),
                kind => {
                    let mode = ["100644", "100755", "120000"][kind as usize % 3];
                    let content = format!("{path} at {n}\n");
                    stream.push_str(&format!(
                        "M {mode} inline {path}\ndata {}\n{content}",
                        content.len()
                    ));
                }
            }
        }
        stream.push('\n');
        tips[side] = Some(mark);
    }
    // main ends by merging side, so main reaches every commit.
    let (main, side) = (tips[0].expect("main"), tips[1].expect("side"));
    stream.push_str(&format!(
        "commit refs/heads/main\nmark :{}\nauthor A <a@example.com> 1795999999 +0100\n\
         committer A <a@example.com> 1795999999 +0100\ndata 6\nmerge\nfrom :{main}\nmerge :{side}\n\n",
        count + 1
    ));
    stream
}

#[test]
fn a_long_tangled_push_lists_each_commits_files_as_git_does() {
    // Enough commits that they are read on two threads (1,024 per thread at least,
    // src/scm/git/read.rs).
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let work = env.work("widgets");
    let mut import = env
        .command("git")
        .current_dir(&work)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("fast-import");
    std::io::Write::write_all(
        &mut import.stdin.take().expect("stdin"),
        tangled_history(2100).as_bytes(),
    )
    .expect("write the history");
    assert!(import.wait().expect("fast-import").success());
    env.push(&work, &server, &["main"]);

    let zero = "0".repeat(40);
    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--max-commits",
                "0",
                &zero,
                "main",
                "refs/heads/main",
            ],
        )
        .success();
    let payload: Value = serde_json::from_str(&run.stdout).expect("json");
    let commits = payload["commits"].as_array().expect("commits");

    // git's own answer: each commit against its first parent, renames as delete + add.
    let log = env.git_out(
        &server,
        &[
            "log",
            "--no-renames",
            "--name-status",
            "--diff-merges=first-parent",
            "--format=commit %H",
            "main",
        ],
    );
    let mut expected: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    let mut current = String::new();
    for line in log.lines().filter(|line| !line.is_empty()) {
        if let Some(id) = line.strip_prefix("commit ") {
            current = id.to_string();
            expected.entry(current.clone()).or_default();
        } else {
            let (status, path) = line.split_once('\t').expect("status<TAB>path");
            let kind = match status {
                "A" => "added",
                "D" => "removed",
                "M" | "T" => "modified",
                other => panic!("unexpected status {other} in {line}"),
            };
            expected
                .get_mut(&current)
                .expect("a commit line first")
                .push((path.to_string(), kind.to_string()));
        }
    }
    assert_eq!(commits.len(), 2101);
    assert_eq!(payload["total_commits"], 2101);
    assert_eq!(expected.len(), 2101);
    let mut seen = std::collections::HashSet::new();
    for commit in commits {
        let id = commit["raw_node"].as_str().expect("raw_node");
        // Oldest first: every parent that is in the push came earlier.
        for parent in commit["parents"].as_array().expect("parents") {
            let parent = parent.as_str().expect("short id");
            assert!(
                seen.iter().any(|seen: &String| seen.starts_with(parent)),
                "{id} listed before its parent {parent}"
            );
        }
        let mut files: Vec<(String, String)> = commit["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|file| {
                (
                    file["file"].as_str().expect("file").to_string(),
                    file["type"].as_str().expect("type").to_string(),
                )
            })
            .collect();
        let mut want = expected[id].clone();
        files.sort();
        want.sort();
        assert_eq!(files, want, "files of {id} ({})", commit["message"]);
        assert!(seen.insert(id.to_string()), "{id} listed twice");
    }
}

#[test]
fn a_shallow_servers_cut_commit_reads_as_a_root_as_git_shows_it() {
    // A server cloned with --depth 1 holds its tip without the tip's parent.
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let origin = env.work("origin");
    env.commit(&origin, &[("a", Some("1")), ("b", Some("1"))], "old", 0);
    let tip = env.commit(
        &origin,
        &[("a", Some("2")), ("c", Some("3"))],
        "cut here",
        1,
    );
    let server = env.path("srv/acme/widgets.git");
    let url = format!("file://{}", origin.display());
    std::fs::create_dir_all(env.path("srv/acme")).expect("srv dir");
    env.git(
        &env.path("srv/acme"),
        &[
            "clone",
            "--quiet",
            "--bare",
            "--depth",
            "1",
            &url,
            "widgets.git",
        ],
    )
    .ok();
    env.serve(&server, &post_json("ci", &receiver.url("/push"), ""));

    // `test` sends the tip of the default branch: the cut commit, read as git shows it.
    env.pushbroker(&server, &["test"]).success();
    let payload = receiver.last_json();
    let commit = &payload["commits"][0];
    assert_eq!(commit["raw_node"], tip.as_str());
    assert_eq!(commit["parents"], json!([]));
    assert_eq!(payload["refs"][0]["old"], Value::Null, "no parent here");
    assert_eq!(payload["refs"][0]["created"], true);
    assert_eq!(
        commit["files"],
        json!([
            {"file": "a", "type": "added"},
            {"file": "b", "type": "added"},
            {"file": "c", "type": "added"}
        ])
    );
    let shown = env.git_out(
        &server,
        &["log", "-1", "--format=%P", "--name-status", "--root"],
    );
    assert_eq!(shown.trim(), "A\ta\nA\tb\nA\tc", "git's view agrees");
}

#[test]
fn a_server_borrowing_objects_through_alternates_reads_them() {
    // `clone --shared`: the server's history lives in another repository's objects
    // (objects/info/alternates), as fork networks and object pools do.
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let origin = env.path("srv/acme/origin.git");
    std::fs::create_dir_all(env.path("srv/acme")).expect("srv dir");
    env.git(
        &env.path("srv/acme"),
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "origin.git",
        ],
    )
    .ok();
    let work = env.work("widgets");
    let base = env.commit(&work, &[("dir/a", Some("1")), ("b", Some("1"))], "base", 0);
    env.push(&work, &origin, &["main"]);
    env.git(
        &env.path("srv/acme"),
        &[
            "clone",
            "--quiet",
            "--bare",
            "--shared",
            "origin.git",
            "widgets.git",
        ],
    )
    .ok();
    let server = env.path("srv/acme/widgets.git");
    assert!(server.join("objects/info/alternates").exists());
    env.serve(&server, &post_json("ci", &receiver.url("/push"), ""));

    let next = env.commit(&work, &[("dir/a", Some("2")), ("c", Some("3"))], "next", 1);
    env.push(&work, &server, &["main"]);
    let payload = receiver.last_json();
    assert_eq!(payload["commits"].as_array().map(Vec::len), Some(1));
    assert_eq!(payload["commits"][0]["raw_node"], next.as_str());
    let commit = &payload["commits"][0];
    assert_eq!(commit["parents"], json!([short(&base)]));
    assert_eq!(
        commit["files"],
        json!([
            {"file": "c", "type": "added"},
            {"file": "dir/a", "type": "modified"}
        ])
    );
}
