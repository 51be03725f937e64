//! Commits that git shows but libgit2 or gitoxide refuse to read (made with
//! `git hash-object --literally`, pushed with a real `git push`: neither side fscks by
//! default) are reported field by field beside the normal commits of the same push; a
//! commit that cannot be read at all is delivered marked unreadable.

use std::path::Path;

use mail_parser::MessageParser;
use serde_json::json;

use crate::util::http::Receiver;
use crate::util::smtp::SmtpServer;
use crate::util::{TestEnv, post_json, short};

/// One broken author line, and what the payload says of it.
struct Case {
    name: &'static str,
    /// The author line (`None`: no author line at all), bytes as written.
    author: Option<&'static [u8]>,
    author_name: &'static str,
    raw_author: &'static str,
    timestamp: &'static str,
    utctimestamp: &'static str,
    /// `commits[].timestamp` in the GitHub format (always a valid date-time).
    github_timestamp: &'static str,
    /// What `git log --format=%an|%ae|%ad` shows of it (`--date=format:%F %T`).
    git_shows: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "author without email",
        author: Some(b"Name <> 1795770000 +0100"),
        author_name: "Name",
        raw_author: "Name <>",
        timestamp: "2026-11-27 10:00:00",
        utctimestamp: "2026-11-27 09:00:00+00:00",
        github_timestamp: "2026-11-27T10:00:00+01:00",
        git_shows: "Name||2026-11-27 10:00:00",
    },
    Case {
        // git gives up on the whole line; the name and date are still there to read.
        name: "author without <>",
        author: Some(b"Name 1795770000 +0100"),
        author_name: "Name",
        raw_author: "Name <>",
        timestamp: "2026-11-27 10:00:00",
        utctimestamp: "2026-11-27 09:00:00+00:00",
        github_timestamp: "2026-11-27T10:00:00+01:00",
        git_shows: "||",
    },
    Case {
        name: "no author line",
        author: None,
        author_name: "",
        raw_author: "",
        timestamp: "",
        utctimestamp: "",
        github_timestamp: "1970-01-01T00:00:00+00:00",
        git_shows: "||",
    },
    Case {
        name: "a date that is not a number",
        author: Some(b"A <a@x> notanumber +0000"),
        author_name: "A",
        raw_author: "A <a@x>",
        timestamp: "notanumber +0000",
        utctimestamp: "notanumber +0000",
        github_timestamp: "1970-01-01T00:00:00+00:00",
        git_shows: "A|a@x|",
    },
    Case {
        name: "a timestamp past 2^64",
        author: Some(b"A <a@x> 18446744073709551617 +0000"),
        author_name: "A",
        raw_author: "A <a@x>",
        timestamp: "18446744073709551617 +0000",
        utctimestamp: "18446744073709551617 +0000",
        github_timestamp: "1970-01-01T00:00:00+00:00",
        git_shows: "A|a@x|1970-01-01 00:00:00",
    },
    Case {
        // +9999 is 99 h 99 min east, applied as git applies it.
        name: "an absurd offset",
        author: Some(b"A <a@x> 1795770000 +9999"),
        author_name: "A",
        raw_author: "A <a@x>",
        timestamp: "2026-12-01 13:39:00",
        utctimestamp: "2026-11-27 09:00:00+00:00",
        github_timestamp: "2026-11-27T09:00:00+00:00",
        git_shows: "A|a@x|2026-12-01 13:39:00",
    },
    Case {
        name: "bytes that are not UTF-8",
        author: Some(b"N\xe9me <a\xff@x> 1795770000 +0100"),
        author_name: "N\u{fffd}me",
        raw_author: "N\u{fffd}me <a\u{fffd}@x>",
        timestamp: "2026-11-27 10:00:00",
        utctimestamp: "2026-11-27 09:00:00+00:00",
        github_timestamp: "2026-11-27T10:00:00+01:00",
        git_shows: "N\u{fffd}me|a\u{fffd}@x|2026-11-27 10:00:00",
    },
];

/// Writes a commit object as given, unchecked (`hash-object --literally`).
fn literal_commit(env: &TestEnv, work: &Path, object: &[u8]) -> String {
    use std::io::Write;
    let mut child = env
        .command("git")
        .current_dir(work)
        .args([
            "hash-object",
            "-t",
            "commit",
            "--literally",
            "-w",
            "--stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("hash-object");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(object)
        .expect("write the object");
    let output = child.wait_with_output().expect("hash-object");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .expect("id")
        .trim()
        .to_string()
}

fn check_case(case: &Case) {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let receiver = Receiver::start();
    let env = TestEnv::new();
    env.write_site(&format!(
        "canon_url = \"https://code.example.com\"\n[email]\ntransport = \"smtp\"\nsmtp_url = \"{}\"\nfrom = \"Code <code@example.com>\"\n",
        smtp.url()
    ));
    let config = format!(
        "{}\n[[service]]\nbroker = \"email\"\nname = \"list\"\nto = [\"dev@example.com\"]\n\n\
         [[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n",
        post_json("ci", &receiver.url("/push"), ""),
        receiver.url("/github")
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    let base = env.commit(&work, &[("a", Some("1"))], "base", 0);
    std::fs::write(work.join("b"), "2").expect("write b");
    env.git(&work, &["add", "b"]).ok();
    let tree = env.git_out(&work, &["write-tree"]);
    // The broken commit adds b; a normal commit on top of it.
    let mut object = format!("tree {tree}\nparent {base}\n").into_bytes();
    if let Some(author) = case.author {
        object.extend_from_slice(b"author ");
        object.extend_from_slice(author);
        object.push(b'\n');
    }
    object.extend_from_slice(b"committer C <c@x> 1795770000 +0100\n\nthe broken one\n");
    let broken = literal_commit(&env, &work, &object);
    let normal = literal_commit(
        &env,
        &work,
        format!(
            "tree {tree}\nparent {broken}\nauthor A <a@x> 1795770060 +0100\n\
             committer A <a@x> 1795770060 +0100\n\nnormal on top\n"
        )
        .as_bytes(),
    );
    env.git(&work, &["update-ref", "refs/heads/main", &normal])
        .ok();
    let git_shows = env.git_out(
        &work,
        &[
            "log",
            "-1",
            "--format=%an|%ae|%ad",
            "--date=format:%Y-%m-%d %H:%M:%S",
            &broken,
        ],
    );
    assert_eq!(git_shows, case.git_shows, "what git log shows");

    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 3, "{}", push.stderr);
    assert_eq!(lines[0], "ci (post): delivered (HTTP 200)");
    assert!(
        lines[1].starts_with("list (email): delivered (SMTP 250"),
        "{lines:?}"
    );
    assert_eq!(lines[2], "gh (post) main: delivered (HTTP 200)");
    assert_eq!(crate::util::spool_files(&server).len(), 0);

    // The POST: all three commits, the broken one field by field.
    let requests = receiver.requests();
    let posted = |path: &str| {
        let found: Vec<_> = requests.iter().filter(|r| r.url == path).collect();
        assert_eq!(found.len(), 1, "one POST to {path}");
        found[0].json()
    };
    let payload = posted("/push");
    assert_eq!(payload["total_commits"], 3);
    let commits = payload["commits"].as_array().expect("commits");
    let ids: Vec<&str> = commits
        .iter()
        .map(|c| c["raw_node"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![base.as_str(), broken.as_str(), normal.as_str()]);
    let commit = &commits[1];
    assert_eq!(commit["author"], case.author_name);
    assert_eq!(commit["raw_author"], case.raw_author);
    assert_eq!(commit["timestamp"], case.timestamp);
    assert_eq!(commit["utctimestamp"], case.utctimestamp);
    assert_eq!(commit["message"], "the broken one\n");
    assert_eq!(commit["node"], short(&broken));
    assert_eq!(commit["parents"], json!([short(&base)]));
    assert_eq!(commit["branch"], "main");
    assert_eq!(commit["files"], json!([{"file": "b", "type": "added"}]));
    assert_eq!(commit.get("unreadable"), None);
    assert_eq!(commits[2]["author"], "A");
    assert_eq!(commits[2]["parents"], json!([short(&broken)]));
    assert_eq!(commits[2]["timestamp"], "2026-11-27 10:01:00");

    // The email: one for the push, the broken changeset as the payload has it.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let mail = MessageParser::default()
        .parse(&messages[0])
        .expect("an email");
    let body = mail.body_text(0).expect("a body").replace("\r\n", "\n");
    let utc = case.utctimestamp.get(..19).unwrap_or(case.utctimestamp);
    let expected = format!(
        "Changeset {}\nAuthor: {}\nDate:   {} ({utc} UTC)\nBranch: main\n\
         Link:   https://code.example.com/acme/widgets/commits/{broken}\n\n    the broken one\n\n\
         Files:\n  A b\n",
        short(&broken),
        case.raw_author.trim(),
        case.timestamp,
    );
    assert!(
        body.contains(&expected),
        "{}: wanted\n{expected}\nin\n{body}",
        case.name
    );
    assert!(body.contains("    normal on top\n"), "{body}");

    // GitHub's format: a valid date-time whatever the commit holds.
    let github = posted("/github");
    assert_eq!(github["commits"][1]["id"], broken.as_str());
    assert_eq!(github["commits"][1]["timestamp"], case.github_timestamp);
    assert_eq!(github["commits"][1]["author"]["name"], case.author_name);
}

#[test]
fn commits_git_shows_but_libgit2_refuses_are_reported_beside_normal_ones() {
    let mut failed = Vec::new();
    for case in CASES {
        if let Err(panic) = std::panic::catch_unwind(|| check_case(case)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {message}", case.name));
        }
    }
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}

#[test]
fn a_commit_that_cannot_be_read_is_delivered_marked_unreadable() {
    // The config is broken at push time, so the raw push is spooled with its commits;
    // the oldest of them is then lost (a damaged disk, a careless gc) before
    // `redeliver`: the push is delivered all the same, that commit marked.
    let receiver = Receiver::start();
    let env = TestEnv::new();
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let server = env.server("acme", "widgets", "[[service]]\nbroker = \"nope\"\n");
    let work = env.work("widgets");
    let lost = env.commit(&work, &[("a", Some("1"))], "first", 0);
    let second = env.commit(&work, &[("b", Some("2"))], "second", 1);
    let third = env.commit(&work, &[("c", Some("3"))], "third", 2);
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.remote_lines()
            .last()
            .expect("a line")
            .starts_with("no service ran"),
        "{}",
        push.stderr
    );
    let object = server.join(format!("objects/{}/{}", &lost[..2], &lost[2..]));
    std::fs::remove_file(&object).expect("the commit arrived as a loose object");
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("ci", &receiver.url("/push"), ""),
    )
    .expect("fix the config");

    let run = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    let payload = receiver.only().json();
    assert_eq!(payload["total_commits"], 3);
    let commits = payload["commits"].as_array().expect("commits");
    let reason = format!("commit {lost} is not in the repository");
    assert_eq!(
        commits[0],
        json!({
            "author": "", "branch": "main", "files": [],
            "message": format!("(unreadable commit: {reason})"),
            "node": short(&lost), "parents": [], "raw_author": "", "raw_node": lost,
            "revision": null, "size": -1, "timestamp": "", "utctimestamp": "",
            "url": format!("https://code.example.com/acme/widgets/commits/{lost}"),
            "unreadable": reason,
        })
    );
    // Its child is read, all but its files (they need the lost commit's tree).
    assert_eq!(commits[1]["raw_node"], second.as_str());
    assert_eq!(commits[1]["message"], "second\n");
    assert_eq!(commits[1]["author"], "Alice Example");
    assert_eq!(commits[1]["timestamp"], "2026-11-27 10:01:00");
    assert_eq!(commits[1]["parents"], json!([short(&lost)]));
    assert_eq!(commits[1]["files"], json!([]));
    assert_eq!(
        commits[1]["unreadable"],
        format!("cannot list its files: reading {lost}, its parent: {reason}")
    );
    assert_eq!(commits[2]["files"], json!([{"file": "c", "type": "added"}]));
    assert_eq!(commits[2]["raw_node"], third.as_str());
    assert_eq!(commits[2].get("unreadable"), None);
    assert_eq!(
        crate::util::spool_files(&server).len(),
        0,
        "delivered, so it left the spool"
    );
}
