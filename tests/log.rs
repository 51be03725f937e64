//! `pushbroker log`: every delivery's final state, its ref and commit, tests marked;
//! `log --show ID` prints the request and the response, credentials masked, within
//! the documented bounds.

use crate::util::http::Receiver;
use crate::util::{TestEnv, files_under, log_lines, post_json, short, spool_files};

fn states(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|line| line["state"].as_str().unwrap_or("(none)").to_string())
        .collect()
}

#[test]
fn a_spooled_delivery_ends_with_its_final_state_then_redelivered_with_delivered() {
    let env = TestEnv::new();
    let receiver = Receiver::with_statuses(&[503, 503, 503]);
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    let tip = env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]).ok();
    let lines = log_lines(&server);
    assert_eq!(states(&lines), ["retrying", "retrying", "spooled"]);
    for line in &lines {
        assert_eq!(line["refs"], "main");
        assert_eq!(line["commit"], short(&tip));
        assert_eq!(line.get("test"), None);
    }
    assert_eq!(spool_files(&server).len(), 1);
    env.pushbroker(&server, &["redeliver"]).success();
    let lines = log_lines(&server);
    assert_eq!(
        states(&lines),
        ["retrying", "retrying", "spooled", "delivered"]
    );
    assert_eq!(lines[3]["attempt"], 4);
    let table = env.pushbroker(&server, &["log"]).success();
    let last: Vec<&str> = table
        .stdout
        .lines()
        .last()
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(
        last[1..9],
        [
            "ci",
            "post",
            "push",
            "delivered",
            "4",
            last[6],
            "main",
            &short(&tip)
        ]
    );
}

#[test]
fn a_failed_test_delivery_is_logged_as_failed_and_not_spooled() {
    let env = TestEnv::new();
    let receiver = Receiver::with_statuses(&[404]);
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let run = env.pushbroker(&server, &["test"]);
    assert_eq!(run.status, 1);
    assert_eq!(run.stdout, "pushbroker: ci (post): failed: HTTP 404\n");
    let lines = log_lines(&server);
    assert_eq!(states(&lines), ["failed"]);
    assert_eq!(lines[0]["test"], true);
    assert!(spool_files(&server).is_empty());
    let table = env.pushbroker(&server, &["log"]).success();
    let row: Vec<&str> = table
        .stdout
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(row[3..5], ["test", "failed"]);
}

#[test]
fn log_show_prints_the_request_and_the_response_masked_and_bounded() {
    let mut env = TestEnv::new();
    let secret = "hunter2-signing-secret";
    env.set_env("CI_SECRET", secret);
    env.grant_env("CI_SECRET");
    let big_answer = "A".repeat(6000);
    let receiver = Receiver::replying(&[503], &big_answer);
    let url = format!("http://robot:pa55word@127.0.0.1:{}/hook", receiver.port);
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &url, "secret = \"secret:ci_secret\""),
    );
    let work = env.work("widgets");
    let long_message = format!("Big change\n\n{}\n", "word ".repeat(5000));
    let tip = env.commit(&work, &[("a", Some("1"))], &long_message, 0);
    env.push(&work, &server, &["main"]).ok();
    let lines = log_lines(&server);
    assert_eq!(states(&lines), ["retrying", "delivered"]);
    let id = lines[0]["delivery"].as_str().expect("id").to_string();
    let run = env.pushbroker(&server, &["log", "--show", &id]).success();
    let out = &run.stdout;
    let shown: Vec<&str> = out.lines().collect();
    assert_eq!(shown[0], format!("delivery {id}"));
    assert_eq!(
        shown[1],
        format!("service ci (post), push, ref main, commit {}", short(&tip))
    );
    assert_eq!(shown[2], "state: delivered");
    let attempt_line = |n: usize| {
        let line = &lines[n - 1];
        format!(
            "attempt {n} at {}: {} after {}ms [{}]: HTTP {}",
            line["time"].as_str().expect("time"),
            line["state"].as_str().expect("state"),
            line["duration_ms"],
            line["status"],
            line["status"]
        )
    };
    let first = shown
        .iter()
        .position(|line| *line == attempt_line(1))
        .unwrap_or_else(|| panic!("no {:?} in:\n{out}", attempt_line(1)));
    let second = shown
        .iter()
        .position(|line| *line == attempt_line(2))
        .unwrap_or_else(|| panic!("no {:?} in:\n{out}", attempt_line(2)));
    let request = format!("  > POST http://***:***@127.0.0.1:{}/hook", receiver.port);
    assert_eq!(
        shown[first + 1],
        request,
        "the URL with its credentials masked"
    );
    let block = &shown[first + 1..second];
    for expected in [
        "  > Content-Type: application/json".to_string(),
        "  > X-Pushbroker-Event: push".to_string(),
        format!("  > X-Pushbroker-Delivery: {id}"),
        "  > Authorization: Basic ***".to_string(),
        format!("  > User-Agent: pushbroker/{}", env!("CARGO_PKG_VERSION")),
        "  > … (cut: only the first 16 KiB are kept)".to_string(),
        "  < HTTP 503".to_string(),
        "  < x-receiver: tiny".to_string(),
        "  < set-cookie: ***".to_string(),
        format!("  < {}", "A".repeat(4096)),
        "  < … (cut: only the first 4 KiB are kept)".to_string(),
    ] {
        assert!(
            block.contains(&expected.as_str()),
            "no {expected:?} in:\n{out}"
        );
    }
    // The signature is kept (as GitHub's "Recent deliveries" shows it), the body too,
    // from its start up to the bound.
    let signature = block
        .iter()
        .find(|line| line.starts_with("  > X-Hub-Signature-256: sha256="))
        .expect("the signature");
    assert_eq!(
        signature.len(),
        "  > X-Hub-Signature-256: sha256=".len() + 64
    );
    let body = block
        .iter()
        .find(|line| line.starts_with("  > {"))
        .expect("the body");
    assert_eq!(body.len(), "  > ".len() + 16 * 1024);
    // No credential anywhere: not in the output, not in any state file.
    let encoded = "cm9ib3Q6cGE1NXdvcmQ="; // base64 of robot:pa55word
    for file in files_under(&server.join("pushbroker")) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).into_owned();
        for leaked in [secret, "pa55word", encoded, "s3cr3t"] {
            assert!(!text.contains(leaked), "{leaked} in {}", file.display());
        }
    }
    for leaked in [secret, "pa55word", encoded, "s3cr3t"] {
        assert!(!out.contains(leaked), "{leaked} in the output");
    }
    // An unknown id: said so, exit 1.
    let missing = env.pushbroker(
        &server,
        &["log", "--show", "0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a10"],
    );
    assert_eq!(missing.status, 1);
    assert_eq!(
        missing.stdout,
        format!(
            "pushbroker: no delivery 0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a10 in {} (it keeps the newest attempts only)\n",
            server.join("pushbroker/deliveries.jsonl").display()
        )
    );
}
