//! `pushbroker hook` on bad input, `--dry-run`, and `payload`.

use serde_json::Value;

use crate::util::TestEnv;
use crate::util::http::Receiver;

const ZERO: &str = "0000000000000000000000000000000000000000";

#[test]
fn malformed_input_gets_one_clear_line_and_no_panic() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nurl = \"{}\"\n",
            receiver.url("/")
        ),
    );
    for (input, expected) in [
        (
            "garbage\n",
            "pushbroker: error: hook input line 1: expected `<old-sha> <new-sha> <ref>`, got \"garbage\": it has fewer than three fields\n",
        ),
        (
            &format!("{ZERO} 1234 refs/heads/main\n") as &str,
            "pushbroker: error: hook input line 1: expected `<old-sha> <new-sha> <ref>`, got \"0000000000000000000000000000000000000000 1234 refs/heads/main\": the new value is not a full object id: not 40 hex digits\n",
        ),
        (
            &format!("{ZERO} {} refs/heads/main\n", "ab".repeat(20)),
            // Well-formed but unreadable: said, and kept for `redeliver` (nothing lost).
            "pushbroker: error: reading abababababababababababababababababababab of refs/heads/main: unknown revision abababababababababababababababababababab: not in this repository\n\
             pushbroker: no service ran; the push is spooled: run `pushbroker redeliver` once the repository reads again\n",
        ),
    ] {
        let run = env.pushbroker_with_input(&server, &["hook"], input, &[("GIT_DIR", ".")]);
        assert_eq!(run.status, 1, "{}", run.stderr);
        assert_eq!(run.stderr, expected);
        assert!(!run.stderr.contains("panicked"));
    }
    assert!(receiver.requests().is_empty());
    let spooled = crate::util::files_under(&server.join("pushbroker/spool"));
    assert_eq!(spooled.len(), 1, "only the readable-looking push is kept");
    let entry: Value =
        serde_json::from_str(&std::fs::read_to_string(&spooled[0]).expect("read")).expect("json");
    assert_eq!(
        entry["lines"],
        serde_json::json!([format!("{ZERO} {} refs/heads/main", "ab".repeat(20))])
    );
}

#[test]
fn dry_run_prints_what_would_be_sent_and_delivers_nothing() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"{}\"\nformat = \"json\"\n\n[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\n", receiver.url("/")),
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "Dry commit", 0);
    env.git(
        &work,
        &["push", "--quiet", server.to_str().expect("path"), "main"],
    )
    .ok();
    let before = receiver.requests().len();
    let run = env
        .pushbroker_with_input(
            &server,
            &["hook", "--dry-run"],
            &format!("{ZERO} {head} refs/heads/main\n"),
            &[("GIT_DIR", ".")],
        )
        .success();
    assert_eq!(
        receiver.requests().len(),
        before,
        "dry run delivers nothing"
    );
    assert!(
        run.stdout.starts_with(&format!(
            "=== ci (post) ===\nPOST {}\nContent-Type: application/json\n",
            receiver.url("/")
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\"message\": \"Dry commit\\n\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("=== email-1 (email) ===\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Subject: [widgets] Dry commit\n"),
        "{}",
        run.stdout
    );
    let outbox = server.join("pushbroker/outbox");
    assert_eq!(
        std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0),
        1,
        "only the real push wrote mail"
    );
}

#[test]
fn payload_prints_the_push_payload_for_a_range() {
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"https://ci.example.com/\"\nsecret = \"env:NOPE\"\n");
    env.grant_env("NOPE");
    let work = env.work("widgets");
    let first = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let second = env.commit(&work, &[("a", Some("2"))], "two", 1);
    let third = env.commit(&work, &[("a", Some("3"))], "three", 2);
    env.push(&work, &server, &["main"]);
    let run = env
        .pushbroker(
            &work,
            &[
                "payload",
                server.to_str().expect("path"),
                &first,
                "main",
                "refs/heads/main",
            ],
        )
        .success();
    let payload: Value = serde_json::from_str(&run.stdout).expect("json");
    let nodes: Vec<&str> = payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["raw_node"].as_str().expect("node"))
        .collect();
    assert_eq!(nodes, vec![second.as_str(), third.as_str()]);
    assert!(payload.get("service").is_none());

    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--format",
                "native",
                "--service",
                "ci",
                "--max-commits",
                "1",
                ZERO,
                "main",
                "refs/heads/main",
            ],
        )
        .success();
    let payload: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(payload["broker"], "post");
    assert_eq!(
        payload["service"],
        serde_json::json!({"name": "ci", "url": "https://ci.example.com/", "secret": "***"})
    );
    assert_eq!(payload["total_commits"], 3);
    assert_eq!(payload["truncated"], true);
    assert_eq!(payload["commits"][0]["raw_node"], third.as_str());

    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--format",
                "bitbucket",
                ZERO,
                "main",
                "refs/heads/main",
            ],
        )
        .success();
    assert!(
        run.stdout.starts_with("payload=%7B%22canon_url%22"),
        "{}",
        run.stdout
    );
    let run = env.pushbroker(&server, &["payload", "nonsense", "main", "refs/heads/main"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr
            .starts_with("pushbroker: error: unknown revision \"nonsense\""),
        "{}",
        run.stderr
    );
}
