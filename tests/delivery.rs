//! Delivery that never holds a push for long and never loses an event: retries, the
//! spool, `redeliver`, the log, `test`, against receivers that misbehave.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::http::Receiver;
use crate::util::smtp::SmtpServer;
use crate::util::{TestEnv, free_port, log_lines, post_json, spool_files, text_under};

#[test]
fn a_500_then_200_is_retried_once_with_the_same_delivery_id() {
    let env = TestEnv::new();
    let receiver = Receiver::with_statuses(&[500]);
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(push.remote_lines(), vec!["ci (post): delivered (HTTP 200)"]);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("X-Pushbroker-Delivery"),
        requests[1].header("X-Pushbroker-Delivery")
    );
    assert_eq!(requests[0].body, requests[1].body);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(200),
        "backoff before the retry"
    );
    let log = log_lines(&server);
    assert_eq!(log.len(), 2);
    assert_eq!(
        (
            log[0]["attempt"].as_u64(),
            log[0]["outcome"].as_str(),
            log[0]["status"].as_i64()
        ),
        (Some(1), Some("retry"), Some(500))
    );
    assert_eq!(
        (
            log[1]["attempt"].as_u64(),
            log[1]["outcome"].as_str(),
            log[1]["status"].as_i64()
        ),
        (Some(2), Some("delivered"), Some(200))
    );
    assert_eq!(log[0]["delivery"], log[1]["delivery"]);
    assert!(spool_files(&server).is_empty());
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let env = TestEnv::new();
    let receiver = Receiver::with_statuses(&[429]);
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(push.remote_lines(), vec!["ci (post): delivered (HTTP 200)"]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(950),
        "Retry-After: 1 honoured"
    );
}

#[test]
fn a_hanging_receiver_holds_the_push_no_longer_than_its_timeout() {
    let env = TestEnv::new();
    let receiver = Receiver::hanging(Duration::from_secs(20));
    let fast = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "{}{}",
            post_json("slow", &receiver.url("/"), "timeout = \"1s\""),
            post_json("fast", &fast.url("/"), "")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let started = Instant::now();
    let push = env.push(&work, &server, &["main"]);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the push took {took:?} with a 1s timeout"
    );
    let lines = push.remote_lines();
    // What timed out, and after how long, in the admin's words (not `timeout: global`).
    assert_eq!(
        lines[0],
        format!(
            "slow (post): failed, spooled for `pushbroker redeliver`: POST {}: timed out: \
             no complete answer within 1s (the service's timeout; the receiver hung or is \
             slower: raise `timeout` in its [[service]] table if it is only slow)",
            receiver.url("/")
        )
    );
    assert_eq!(lines[1], "fast (post): delivered (HTTP 200)");
    assert_eq!(
        receiver.requests().len(),
        1,
        "a hung attempt is not repeated inline"
    );
    assert_eq!(spool_files(&server).len(), 1);
}

#[test]
fn a_trickling_smtp_server_holds_the_push_no_longer_than_the_timeout() {
    // lettre's own timeout is per socket read: a server sending one byte every half
    // second never trips it. The attempt still ends at the service's timeout.
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::trickling(scratch.path());
    let env = TestEnv::new();
    env.write_site(&format!(
        "[email]\ntransport = \"smtp\"\nsmtp_url = \"{}\"\n",
        smtp.url()
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"email\"\nname = \"mail\"\nto = \"dev@example.com\"\ntimeout = \"1s\"\n",
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let started = Instant::now();
    let push = env.push(&work, &server, &["main"]);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the push took {took:?} with a 1 s timeout"
    );
    assert_eq!(
        push.remote_lines(),
        vec![
            "mail (email): failed, spooled for `pushbroker redeliver`: SMTP: no complete answer within 1 s"
        ]
    );
    assert_eq!(spool_files(&server).len(), 1, "the email is not lost");
}

#[test]
fn the_hooks_budget_holds_when_a_transport_has_no_timeout() {
    // A sendmail that never returns: lettre waits for it without a timeout. The hook's
    // budget ends the wait, and the email is spooled.
    let env = TestEnv::new();
    let sendmail = env.path("bin/stuck-sendmail");
    std::fs::create_dir_all(sendmail.parent().expect("bin")).expect("bin dir");
    std::fs::write(&sendmail, "#!/bin/sh\nexec sleep 6\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.write_site(&format!(
        "[email]\ntransport = \"sendmail\"\nsendmail = \"{}\"\n[limits]\nbudget = \"2s\"\n",
        sendmail.display()
    ));
    let fast = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"email\"\nname = \"mail\"\nto = \"dev@example.com\"\n\n{}",
            post_json("fast", &fast.url("/"), "")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let started = Instant::now();
    let push = env.push(&work, &server, &["main"]);
    let took = started.elapsed();
    // The budget, a second of grace, and the push itself.
    assert!(
        took < Duration::from_millis(4500),
        "the push took {took:?} with a 2 s budget"
    );
    assert_eq!(
        push.remote_lines(),
        vec![
            "mail (email): failed, spooled for `pushbroker redeliver`: did not finish within the hook's time budget",
            "fast (post): delivered (HTTP 200)",
        ]
    );
    assert_eq!(spool_files(&server).len(), 1, "the email is not lost");
}

#[test]
fn a_dead_destination_is_spooled_and_redelivered_once_with_its_id() {
    let mut env = TestEnv::new();
    env.set_env("HOOK_SECRET", "do-not-leak-this");
    env.grant_env("HOOK_SECRET");
    let port = free_port();
    let server = env.server(
        "acme",
        "widgets",
        &post_json(
            "ci",
            &format!("http://127.0.0.1:{port}/"),
            "secret = \"secret:hook_secret\"",
        ),
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.remote_lines()[0].starts_with("ci (post): failed after 3 attempts, spooled"),
        "{}",
        push.stderr
    );
    let spooled = spool_files(&server);
    assert_eq!(spooled.len(), 1);
    let id = spooled[0]
        .file_stem()
        .expect("name")
        .to_string_lossy()
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&spooled[0])
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let log = log_lines(&server);
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|line| line["delivery"] == id.as_str() && line["outcome"] == "retry")
    );

    let listed = env.pushbroker(&server, &["log", "--failed"]).success();
    assert!(
        listed
            .stdout
            .lines()
            .nth(1)
            .expect("one entry")
            .starts_with(&id),
        "{}",
        listed.stdout
    );

    let receiver = Receiver::on_port(port);
    let run = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(
        run.stdout,
        format!("pushbroker: {id}: ci (post): delivered (HTTP 200)\n")
    );
    let request = receiver.only();
    assert_eq!(request.header("X-Pushbroker-Delivery"), id);
    assert_eq!(request.header("webhook-id"), id);
    assert_eq!(request.json()["delivery"], id.as_str());
    assert_eq!(request.json()["commits"][0]["raw_node"], head.as_str());
    assert!(spool_files(&server).is_empty());
    assert_eq!(
        log_lines(&server).last().expect("log")["attempt"],
        4,
        "attempts count across runs"
    );

    let again = env
        .pushbroker(
            env.dir.path(),
            &["redeliver", server.to_str().expect("path"), "--all"],
        )
        .success();
    assert_eq!(again.stdout, "pushbroker: nothing to redeliver\n");
    assert_eq!(receiver.requests().len(), 1, "delivered once");

    // The secret is nowhere in the state directory.
    assert!(!text_under(&server.join("pushbroker")).contains("do-not-leak-this"));
}

#[test]
fn smtp_451_then_accept_delivers_the_email_once() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::with_handler(scratch.path(), "flaky_smtp.FlakyMailbox");
    let env = TestEnv::new();
    env.write_site(&format!(
        "[email]\ntransport = \"smtp\"\nsmtp_url = \"{}\"\n",
        smtp.url()
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"email\"\nname = \"list\"\nto = \"dev@example.com\"\n",
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.remote_lines()[0].starts_with("list (email): delivered (SMTP 250"),
        "{}",
        push.stderr
    );
    assert_eq!(smtp.messages().len(), 1);
    let log = log_lines(&server);
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0]["outcome"].as_str(), log[0]["status"].as_i64()),
        (Some("retry"), Some(451))
    );
    assert_eq!(
        (log[1]["outcome"].as_str(), log[1]["status"].as_i64()),
        (Some("delivered"), Some(250))
    );
}

#[test]
fn a_broken_config_spools_the_raw_push_and_redeliver_sends_it_after_the_fix() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\ntimeout = \"soon\"\n",
    );
    let work = env.work("widgets");
    let first = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let second = env.commit(&work, &[("a", Some("2"))], "two", 1);
    let push = env.push(&work, &server, &["main"]);
    let config = server.join("pushbroker.toml");
    assert_eq!(
        push.remote_lines(),
        vec![
            format!("{}:4:11: invalid duration \"soon\": write e.g. \"10s\" or \"500ms\"", config.display()),
            "no service ran; the push is spooled: fix the config (`pushbroker check`), then run `pushbroker redeliver`".to_string(),
        ]
    );
    assert_eq!(
        env.git_out(&server, &["rev-parse", "main"]),
        second,
        "the push itself went through"
    );
    assert_eq!(spool_files(&server).len(), 1);
    let still_broken = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(still_broken.status, 1);
    assert!(
        still_broken
            .stdout
            .ends_with("1 spooled deliveries kept: fix the config first\n"),
        "{}",
        still_broken.stdout
    );

    std::fs::write(&config, post_json("ci", &receiver.url("/"), "")).expect("fix");
    let run = env.pushbroker(&server, &["redeliver"]).success();
    assert!(
        run.stdout.contains("ci (post): delivered (HTTP 200)"),
        "{}",
        run.stdout
    );
    let payload = receiver.only().json();
    let nodes: Vec<&str> = payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["raw_node"].as_str().expect("id"))
        .collect();
    assert_eq!(nodes, vec![first.as_str(), second.as_str()]);
    assert_eq!(payload["user"], "alice");
    assert!(spool_files(&server).is_empty());
    let again = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(again.stdout, "pushbroker: nothing to redeliver\n");
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn a_raw_spooled_push_keeps_its_new_commits_though_refs_move_before_redelivery() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let config = server.join("pushbroker.toml");
    std::fs::write(&config, "[[service]]\nbroker = \"post\"\n").expect("break the config");

    // While the config is broken: a feature branch, then main fast-forwarded onto it.
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let feature = env.commit(&work, &[("f", Some("1"))], "Feature work", 1);
    env.push(&work, &server, &["feature"]);
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    env.git(&work, &["merge", "--quiet", "--ff-only", "feature"])
        .ok();
    env.push(&work, &server, &["main"]);
    assert_eq!(spool_files(&server).len(), 2);

    // Now main reaches the feature commit too; the feature push still brought it.
    std::fs::write(&config, post_json("ci", &receiver.url("/"), "")).expect("fix");
    env.pushbroker(&server, &["redeliver"]).success();
    let events: Vec<Value> = receiver.requests()[1..].iter().map(|r| r.json()).collect();
    let of = |name: &str| {
        events
            .iter()
            .find(|event| event["refs"][0]["name"] == name)
            .unwrap_or_else(|| panic!("no event for {name}: {events:?}"))
    };
    assert_eq!(of("feature")["commits"][0]["raw_node"], feature.as_str());
    assert_eq!(of("feature")["commits"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        of("main")["commits"],
        serde_json::json!([]),
        "not new to main's push"
    );
    assert!(spool_files(&server).is_empty());
}

#[test]
fn concurrent_pushes_are_each_delivered_exactly_once() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    let mut tips = Vec::new();
    for n in 0..8 {
        env.git(
            &work,
            &["checkout", "--quiet", "-b", &format!("b{n}"), "main"],
        )
        .ok();
        tips.push(env.commit(
            &work,
            &[(&format!("f{n}"), Some("x"))],
            &format!("branch {n}"),
            n + 1,
        ));
    }
    std::thread::scope(|scope| {
        for n in 0..8 {
            let (env, work, server) = (&env, &work, &server);
            scope.spawn(move || env.push(work, server, &[&format!("b{n}")]));
        }
    });
    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        9,
        "the first push and eight concurrent ones"
    );
    let mut seen: Vec<String> = requests[1..]
        .iter()
        .map(|request| {
            let payload = request.json();
            assert_eq!(payload["commits"].as_array().expect("commits").len(), 1);
            payload["commits"][0]["raw_node"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    seen.sort();
    tips.sort();
    assert_eq!(seen, tips);
    let log = log_lines(&server);
    assert_eq!(log.len(), 9);
}

#[test]
fn the_pusher_sees_exactly_which_services_failed() {
    let env = TestEnv::new();
    let ok = Receiver::start();
    let missing = Receiver::with_statuses(&[404]);
    let server = env.server(
        "acme",
        "widgets",
        &[
            post_json("one", &ok.url("/"), ""),
            post_json("two", &missing.url("/"), ""),
            post_json("three", &ok.url("/"), ""),
        ]
        .concat(),
    );
    let work = env.work("widgets");
    let tip = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "one (post): delivered (HTTP 200)",
            "two (post): failed, spooled for `pushbroker redeliver`: HTTP 404",
            "three (post): delivered (HTTP 200)",
        ]
    );
    assert_eq!(missing.requests().len(), 1, "a 404 is not retried");
    let table = env.pushbroker(&server, &["log"]).success();
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(rows[0].starts_with("TIME"), "{}", table.stdout);
    assert_eq!(rows.len(), 4, "{}", table.stdout);
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        [
            "TIME", "SERVICE", "BROKER", "EVENT", "STATE", "ATTEMPT", "DURATION", "REF", "COMMIT",
            "DELIVERY", "DETAIL"
        ]
    );
    // Every delivery's final state, its ref and commit; the failed one is spooled.
    let mut states: Vec<(String, String, String, String, String, String)> = rows[1..]
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.split_whitespace().collect();
            let cell = |index: usize| cells[index].to_string();
            (
                cell(1),
                cell(3),
                cell(4),
                cell(7),
                cell(8),
                cells[10..].join(" "),
            )
        })
        .collect();
    states.sort();
    let row = |service: &str, state: &str, detail: &str| {
        let short = tip[..12].to_string();
        let push = "push".to_string();
        (
            service.into(),
            push,
            state.into(),
            "main".into(),
            short,
            detail.into(),
        )
    };
    assert_eq!(
        states,
        vec![
            row("one", "delivered", "HTTP 200"),
            row("three", "delivered", "HTTP 200"),
            row("two", "spooled", "HTTP 404"),
        ],
        "{}",
        table.stdout
    );
    let json = env
        .pushbroker(&server, &["log", "--json", "-n", "1"])
        .success();
    assert_eq!(json.stdout.lines().count(), 1);
}

#[test]
fn test_sends_the_default_branch_tip_as_a_test_event() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &receiver.url("/"), "branches = [\"release/*\"]"),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let tip = env.commit(&work, &[("a", Some("2"))], "two", 1);
    env.push(&work, &server, &["main"]);
    assert!(receiver.requests().is_empty(), "filtered out on push");
    let run = env
        .pushbroker(&server, &["test", "--service", "ci"])
        .success();
    assert_eq!(run.stdout, "pushbroker: ci (post): delivered (HTTP 200)\n");
    let payload = receiver.only().json();
    assert_eq!(payload["test"], true);
    assert_eq!(payload["commits"][0]["raw_node"], tip.as_str());
    assert_eq!(payload["refs"][0]["ref"], "refs/heads/main");
    let unknown = env.pushbroker(&server, &["test", "--service", "nope"]);
    assert_eq!(unknown.status, 1);
    assert!(
        unknown.stderr.contains("no service named \"nope\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_spool_that_cannot_be_written_is_reported_loudly() {
    let env = TestEnv::new();
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &format!("http://127.0.0.1:{}/", free_port()), ""),
    );
    // A file where the spool directory should be: nothing can be spooled.
    std::fs::create_dir_all(server.join("pushbroker")).expect("state");
    std::fs::write(server.join("pushbroker/spool"), "not a directory").expect("file");
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("ci (post): failed after 3 attempts: POST "),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("; NOT spooled (creating ")
            && lines[0].ends_with("): this delivery is lost"),
        "{lines:?}"
    );
    // Nor could the write-ahead journal be written: the pusher is told that too.
    assert_eq!(
        lines[1],
        format!(
            "warning: the deliveries were not written down before sending (creating {}: Not a directory (os error 20)): had the hook been killed, they would be lost",
            server.join("pushbroker/spool/journal").display()
        )
    );
    assert_eq!(env.git_out(&server, &["rev-parse", "main"]), head);
    // The log ends the delivery as lost, not as spooled.
    let states: Vec<Value> = log_lines(&server)
        .iter()
        .map(|line| line["state"].clone())
        .collect();
    assert_eq!(states, ["retrying", "retrying", "spooled", "lost"]);
    let last = log_lines(&server).pop().expect("a line");
    assert!(
        last["detail"]
            .as_str()
            .expect("detail")
            .contains("; NOT spooled: creating "),
        "{last}"
    );
}

#[test]
fn a_shared_repository_gets_state_files_its_group_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o7777
    };
    let env = TestEnv::new();
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    // Several accounts push to a group-shared repository: each must be able to append to
    // the log and write the spool, whatever its umask.
    for (shared, dir_mode, file_mode) in [(None, 0o700, 0o600), (Some("group"), 0o2770, 0o660)] {
        let server = env.server(
            "acme",
            &format!("w-{dir_mode:o}"),
            &post_json("ci", &dead, ""),
        );
        if let Some(value) = shared {
            env.git(&server, &["config", "core.sharedRepository", value])
                .ok();
        }
        env.push(&work, &server, &["main"]);
        let state = server.join("pushbroker");
        assert_eq!(mode(&state), dir_mode, "{shared:?}");
        assert_eq!(mode(&state.join("spool")), dir_mode, "{shared:?}");
        assert_eq!(
            mode(&state.join("deliveries.jsonl")),
            file_mode,
            "{shared:?}"
        );
        let spooled = spool_files(&server);
        assert_eq!(spooled.len(), 1);
        assert_eq!(mode(&spooled[0]), file_mode, "{shared:?}");
    }
}
