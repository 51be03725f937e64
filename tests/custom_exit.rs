//! A custom broker's exit ends its attempt: a process it leaves behind holding its
//! output neither holds the push nor makes the delivery run again, and is killed with
//! the broker's process group; `verify` keeps to its timeout the same way.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::custom::{fixture, registration, sha_of};
use crate::util::{TestEnv, files_under};

/// Whether process `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .expect("the broker wrote its child's pid")
        .trim()
        .parse()
        .expect("a pid")
}

/// A server whose one service runs `leave.sh DIR [escape]` with a 5 s timeout, in a
/// site whose hook budget is 3 s.
fn leaving_server(env: &TestEnv, dir: &Path, escape: bool) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let program = fixture("leave.sh");
    let mut args = vec![dir.to_str().expect("path")];
    if escape {
        args.push("escape");
    }
    env.write_site(&format!(
        "[limits]\nbudget = \"3s\"\n\n{}",
        registration("leave", &program, &sha_of(&program), &args)
    ));
    env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"leave\"\nname = \"board\"\ntimeout = \"5s\"\n",
    )
}

#[test]
fn a_broker_that_exits_but_leaves_a_child_holding_its_output_is_delivered_once_at_its_exit() {
    // (in its group: killed when the broker has exited; out of it, by setsid: not
    // reachable, but not waited for either)
    for escape in [false, true] {
        let env = TestEnv::new();
        let dir = env.path("broker");
        let server = leaving_server(&env, &dir, escape);
        let work = env.work("widgets");
        env.commit(&work, &[("a", Some("1"))], "one", 0);
        let started = Instant::now();
        let push = env.push(&work, &server, &["main"]);
        let took = started.elapsed();
        let child = read_pid(&dir.join("child.pid"));
        let still_alive = alive(child);
        if escape {
            kill(child);
        }
        assert!(
            took < Duration::from_millis(1500),
            "escape={escape}: the push took {took:?}"
        );
        assert_eq!(
            push.remote_lines(),
            vec![
                "board (leave): delivered (exit 0, but a process it left behind held its output (killed))"
            ],
            "escape={escape}"
        );
        // One attempt, one run, under the delivery's id; nothing left to redeliver.
        let log: Vec<Value> = std::fs::read_to_string(server.join("pushbroker/deliveries.jsonl"))
            .expect("log")
            .lines()
            .map(|line| serde_json::from_str(line).expect("json"))
            .collect();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0]["attempt"], 1);
        assert_eq!(log[0]["outcome"], "delivered");
        assert_eq!(log[0]["status"], 0);
        assert_eq!(
            log[0]["output"],
            format!("started {child}\n"),
            "its output up to its exit is kept"
        );
        let runs = std::fs::read_to_string(dir.join("runs")).expect("runs");
        assert_eq!(
            runs,
            format!("{}\n", log[0]["delivery"].as_str().expect("id"))
        );
        assert!(files_under(&server.join("pushbroker/spool")).is_empty());
        if !escape {
            assert!(
                !still_alive,
                "the broker's child {child} outlived its attempt"
            );
        }
    }
}

/// Kills a process this test's broker left outside its group, by its pid.
fn kill(pid: i32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[test]
fn verify_keeps_to_its_timeout_and_fails_a_broker_that_leaves_a_child_behind() {
    let env = TestEnv::new();
    let dir = env.path("broker");
    std::fs::create_dir_all(&dir).expect("dir");
    let started = Instant::now();
    let run = env.pushbroker(
        env.dir.path(),
        &[
            "verify",
            fixture("leave.sh").to_str().expect("path"),
            "--timeout",
            "2s",
            "--",
            dir.to_str().expect("path"),
        ],
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "verify took {took:?}");
    assert_eq!(run.status, 1, "{}", run.stdout);
    let fails: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("  FAIL  "))
        .collect();
    assert_eq!(fails.len(), 7, "{}", run.stdout);
    for line in &fails {
        assert!(
            line.ends_with(
                "exit 0, but a process it left behind held its output (killed): \
                 a broker must leave nothing running when it exits"
            ),
            "{line}"
        );
    }
    assert!(
        run.stdout
            .contains("7 of 7 cases failed: do not register it")
    );
    // Each case ran it once, and none of its children is left.
    let runs = std::fs::read_to_string(dir.join("runs")).expect("runs");
    assert_eq!(runs.lines().count(), 7);
    let child = read_pid(&dir.join("child.pid"));
    assert!(!alive(child), "the broker's child {child} outlived verify");
}
