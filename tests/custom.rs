//! Custom brokers ("write your own"): the API, registration, pins, verify, timeouts, and
//! the network policy. Every refusal is proven with a marker file or a silent receiver.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{TestEnv, files_under, free_port, text_under};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/brokers")
        .join(name)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/brokers")
        .join(name)
}

/// Copies a program into the test's directory (so a test may change it) and returns
/// the copy and its sha256 as `verify` prints it.
fn install_program(env: &TestEnv, source: &Path) -> (PathBuf, String) {
    let target = env.path(&format!(
        "brokers/{}",
        source.file_name().expect("name").to_string_lossy()
    ));
    std::fs::create_dir_all(target.parent().expect("dir")).expect("dir");
    std::fs::copy(source, &target).expect("copy");
    let verified = env.pushbroker(
        env.dir.path(),
        &["verify", target.to_str().expect("path"), "--", "ignored"],
    );
    let sha = verified
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("sha256 "))
        .expect("verify prints the sha256")
        .to_string();
    (target, sha)
}

pub fn registration(name: &str, program: &Path, sha: &str, args: &[&str]) -> String {
    format!(
        "[brokers.{name}]\ncommand = {:?}\nsha256 = \"{sha}\"\nargs = {args:?}\n",
        program.display().to_string()
    )
}

#[test]
fn a_registered_broker_gets_the_payload_and_its_secret_only_in_its_environment() {
    let mut env = TestEnv::new();
    env.set_env("TRELLO_TOKEN", "t0ken-value-secret");
    env.grant_env("TRELLO_TOKEN");
    let record = env.path("record");
    let (program, sha) = install_program(&env, &fixture("record.py"));
    env.write_site(&registration(
        "recorder",
        &program,
        &sha,
        &[record.to_str().expect("path")],
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"recorder\"\nname = \"board\"\nlist = \"Done\"\ntoken = \"env:TRELLO_TOKEN\"\nlimit = 3\n",
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "Ship it", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["board (recorder): delivered (exit 0)"]
    );

    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(record.join("000.payload.json")).expect("payload"),
    )
    .expect("json");
    assert_eq!(payload["broker"], "recorder");
    assert_eq!(
        payload["service"],
        serde_json::json!({"name": "board", "list": "Done", "token": "***", "limit": 3})
    );
    assert_eq!(payload["commits"][0]["raw_node"], head.as_str());
    let delivery = payload["delivery"].as_str().expect("id");
    let seen: Value =
        serde_json::from_str(&std::fs::read_to_string(record.join("000.env.json")).expect("env"))
            .expect("json");
    let mut names: Vec<&str> = seen["env"]
        .as_object()
        .expect("env")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "LANG",
            "PATH",
            "PUSHBROKER_DELIVERY",
            "PUSHBROKER_REPO",
            "PUSHBROKER_SECRET_TOKEN",
            "PUSHBROKER_SERVICE"
        ],
        "a clean environment: nothing of the hook's (TRELLO_TOKEN, HOME, GIT_DIR) leaks in"
    );
    assert_eq!(seen["env"]["PUSHBROKER_SECRET_TOKEN"], "t0ken-value-secret");
    assert_eq!(seen["env"]["PUSHBROKER_DELIVERY"], delivery);
    assert_eq!(seen["env"]["PUSHBROKER_SERVICE"], "board");
    assert_eq!(
        seen["env"]["PUSHBROKER_REPO"],
        server
            .canonicalize()
            .expect("path")
            .to_str()
            .expect("utf-8")
    );
    assert_eq!(seen["env"]["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert_eq!(
        seen["cwd"],
        server
            .join("pushbroker")
            .canonicalize()
            .expect("state")
            .to_str()
            .expect("utf-8")
    );

    // Its output is in the log; the secret is nowhere in the state directory.
    let log = std::fs::read_to_string(server.join("pushbroker/deliveries.jsonl")).expect("log");
    assert!(
        log.contains(&format!("recorded {delivery}")) && log.contains("a line on stderr"),
        "{log}"
    );
    assert!(!text_under(&server.join("pushbroker")).contains("t0ken-value-secret"));
    let dry = env
        .pushbroker_with_input(
            &server,
            &["hook", "--dry-run"],
            &format!("{} {head} refs/heads/main\n", "0".repeat(40)),
            &[("GIT_DIR", ".")],
        )
        .success();
    assert!(
        dry.stdout.contains("PUSHBROKER_SECRET_TOKEN=***")
            && !dry.stdout.contains("t0ken-value-secret"),
        "{}",
        dry.stdout
    );
}

#[test]
fn a_repository_can_never_make_the_server_run_its_own_program() {
    let env = TestEnv::new();
    let marker = env.path("marker-ran");
    let marker_program = fixture("marker.sh");
    let cases = [
        (
            "[[service]]\nbroker = \"marker\"\n".to_string(),
            "2:10: unknown broker `marker`",
        ),
        (
            format!(
                "[[service]]\nbroker = {:?}\n",
                marker_program.display().to_string()
            ),
            "2:10: broker must be a name, not a path",
        ),
        (
            format!(
                "[[service]]\nbroker = \"post\"\nurl = \"http://127.0.0.1:9/\"\ncommand = {:?}\n",
                marker_program.display().to_string()
            ),
            "4:1: a repository config cannot name a program to run",
        ),
        (
            format!(
                "[brokers.marker]\ncommand = {:?}\nsha256 = \"{}\"\n\n[[service]]\nbroker = \"marker\"\n",
                marker_program.display().to_string(),
                "0".repeat(64)
            ),
            "1:2: a repository config cannot register brokers",
        ),
    ];
    for (index, (config, expected)) in cases.iter().enumerate() {
        let server = env.server("acme", &format!("repo{index}"), config);
        let checked = env.pushbroker(&server, &["check"]);
        assert_eq!(checked.status, 1);
        assert!(
            checked.stdout.contains(expected),
            "{config}\n{}",
            checked.stdout
        );
        let work = env.work(&format!("repo{index}"));
        env.commit(&work, &[("a", Some("1"))], "one", 0);
        let push = env.push(&work, &server, &["main"]);
        assert!(
            push.remote_lines()
                .last()
                .expect("a line")
                .starts_with("no service ran"),
            "{}",
            push.stderr
        );
        assert!(
            !marker.exists() && !Path::new("/tmp/pushbroker-marker-ran").exists(),
            "the program ran for {config}"
        );
    }
}

#[test]
fn a_changed_program_is_not_run_until_reregistered() {
    let env = TestEnv::new();
    let record = env.path("record");
    let (program, sha) = install_program(&env, &fixture("record.py"));
    env.write_site(&registration(
        "recorder",
        &program,
        &sha,
        &[record.to_str().expect("path")],
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"recorder\"\nname = \"board\"\n",
    );
    // The program changes after registration.
    let mut text = std::fs::read_to_string(&program).expect("read");
    text.push_str("\n# changed\n");
    std::fs::write(&program, text).expect("write");
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let line = &push.remote_lines()[0];
    assert!(
        line.starts_with("board (recorder): failed, spooled for `pushbroker redeliver`: "),
        "{line}"
    );
    assert!(
        line.contains("changed since it was registered") && line.contains("re-verify"),
        "{line}"
    );
    assert!(!record.exists(), "not run");

    let new_sha = sha_of(&program);
    assert_ne!(new_sha, sha);
    let scratch = env.path("verify-again");
    let reverified = env
        .pushbroker(
            env.dir.path(),
            &[
                "verify",
                program.to_str().expect("path"),
                "--",
                scratch.to_str().expect("path"),
            ],
        )
        .success();
    assert!(
        reverified
            .stdout
            .contains(&format!("sha256 = \"{new_sha}\"")),
        "{}",
        reverified.stdout
    );
    env.write_site(&registration(
        "recorder",
        &program,
        &new_sha,
        &[record.to_str().expect("path")],
    ));
    let run = env.pushbroker(&server, &["redeliver"]).success();
    assert!(
        run.stdout.contains("board (recorder): delivered (exit 0)"),
        "{}",
        run.stdout
    );
    assert_eq!(
        files_under(&record).len(),
        2,
        "one payload and its environment"
    );
}

pub fn sha_of(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).expect("read"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn exit_75_is_retried_and_spooled_and_exit_3_fails_at_once() {
    let env = TestEnv::new();
    let record = env.path("record");
    let program = fixture("record.py");
    env.write_site(&registration(
        "recorder",
        &program,
        &sha_of(&program),
        &[record.to_str().expect("path")],
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"recorder\"\nname = \"later\"\nexit_code = 75\n\n[[service]]\nbroker = \"recorder\"\nname = \"broken\"\nexit_code = 3\n",
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "later (recorder): failed after 3 attempts, spooled for `pushbroker redeliver`: exit 75 (temporary failure): a line on stderr",
            "broken (recorder): failed, spooled for `pushbroker redeliver`: exit 3: a line on stderr",
        ]
    );
    let log: Vec<Value> = std::fs::read_to_string(server.join("pushbroker/deliveries.jsonl"))
        .expect("log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    let statuses: Vec<(String, i64)> = log
        .iter()
        .map(|l| {
            (
                l["service"].as_str().expect("s").to_string(),
                l["status"].as_i64().expect("code"),
            )
        })
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|(s, c)| s == "later" && *c == 75)
            .count(),
        3
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|(s, c)| s == "broken" && *c == 3)
            .count(),
        1
    );
    assert_eq!(
        files_under(&server.join("pushbroker/spool"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .count(),
        2
    );
}

#[test]
fn a_broker_past_its_timeout_is_killed_with_its_children() {
    let env = TestEnv::new();
    let pid_file = env.path("child.pid");
    let program = fixture("hang.sh");
    env.write_site(&registration(
        "hang",
        &program,
        &sha_of(&program),
        &[pid_file.to_str().expect("path")],
    ));
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"hang\"\ntimeout = \"1s\"\n",
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let started = Instant::now();
    let push = env.push(&work, &server, &["main"]);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "the push took {took:?}");
    assert_eq!(
        push.remote_lines(),
        vec![
            "hang-1 (hang): failed, spooled for `pushbroker redeliver`: killed after its 1s timeout"
        ]
    );
    let child: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("number");
    std::thread::sleep(Duration::from_millis(200));
    let alive = Path::new(&format!("/proc/{child}")).exists()
        && !std::fs::read_to_string(format!("/proc/{child}/stat"))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "the broker's child {child} outlived it");
}

#[test]
fn verify_passes_the_examples_and_fails_crashing_and_hanging_brokers() {
    let env = TestEnv::new();
    for name in ["changelog.py", "archive.sh"] {
        let run = env
            .pushbroker(
                env.dir.path(),
                &["verify", example(name).to_str().expect("path")],
            )
            .success();
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(
            lines
                .iter()
                .filter(|line| line.starts_with("  ok    "))
                .count(),
            7,
            "{}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains(&format!("sha256 = \"{}\"", sha_of(&example(name)))),
            "{}",
            run.stdout
        );
        let stem = name.split('.').next().expect("stem");
        assert!(
            run.stdout.contains(&format!(
                "[brokers.{stem}]\ncommand = \"{}\"",
                example(name).display()
            )),
            "{}",
            run.stdout
        );
    }
    let crash = env.pushbroker(
        env.dir.path(),
        &["verify", fixture("crash.sh").to_str().expect("path")],
    );
    assert_eq!(crash.status, 1);
    assert!(
        crash.stdout.contains("  FAIL  one changeset ("),
        "{}",
        crash.stdout
    );
    assert!(
        crash.stdout.contains("killed by signal 11: about to crash"),
        "{}",
        crash.stdout
    );
    assert!(
        crash
            .stdout
            .contains("7 of 7 cases failed: do not register it"),
        "{}",
        crash.stdout
    );
    let pid_file = env.path("verify-child.pid");
    let started = Instant::now();
    let hang = env.pushbroker(
        env.dir.path(),
        &[
            "verify",
            fixture("hang.sh").to_str().expect("path"),
            "--timeout",
            "300ms",
            "--",
            pid_file.to_str().expect("path"),
        ],
    );
    assert_eq!(hang.status, 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        hang.stdout.contains("killed after its 300ms timeout"),
        "{}",
        hang.stdout
    );
}

#[test]
fn the_examples_work_as_registered_brokers() {
    let env = TestEnv::new();
    let changelog = example("changelog.py");
    let archive = example("archive.sh");
    env.write_site(&format!(
        "{}{}",
        registration("changelog", &changelog, &sha_of(&changelog), &[]),
        registration("archive", &archive, &sha_of(&archive), &[])
    ));
    let server = env.server("acme", "widgets", "[[service]]\nbroker = \"changelog\"\nprefix = \"> \"\n\n[[service]]\nbroker = \"archive\"\n");
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "Ship it\n\nbody", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "changelog-1 (changelog): delivered (exit 0)",
            "archive-1 (archive): delivered (exit 0)"
        ]
    );
    let log = std::fs::read_to_string(server.join("pushbroker/changelog.txt")).expect("changelog");
    assert!(log.starts_with("> "), "{log}");
    assert!(
        log.ends_with(&format!(
            " alice pushed 1 changeset to acme/widgets (main)\n  {} Ship it\n",
            &head[..12]
        )),
        "{log}"
    );
    let archived = files_under(&server.join("pushbroker/archive"));
    assert_eq!(archived.len(), 1);
    let payload: Value =
        serde_json::from_str(&std::fs::read_to_string(&archived[0]).expect("read")).expect("json");
    assert_eq!(payload["commits"][0]["raw_node"], head.as_str());
}

#[test]
fn a_post_to_a_denied_address_is_refused_before_any_connection() {
    let env = TestEnv::new();
    let receiver =
        std::sync::Arc::new(tiny_http::Server::http("127.0.0.2:0").expect("bind 127.0.0.2"));
    let port = receiver.server_addr().to_ip().expect("ip").port();
    // Loopback is denied by default; the site opens 127.0.0.1 alone.
    env.write_site("[network]\nallow = [\"127.0.0.1/32\"]\n");
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"dotted\"\nurl = \"http://127.0.0.2:{port}/\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"decimal\"\nurl = \"http://2130706434:{port}/\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"allowed\"\nurl = \"http://127.0.0.1:{}/\"\n",
            free_port()
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    for (index, name) in ["dotted", "decimal"].iter().enumerate() {
        assert_eq!(
            lines[index],
            format!(
                "{name} (post): failed, spooled for `pushbroker redeliver`: POST http://127.0.0.2:{port}/: refused before connecting: 127.0.0.2 is not a public address: the site's [network] policy denies it (the server admin can add it to [network] allow)"
            ),
        );
    }
    assert!(
        lines[2].contains("Connection refused"),
        "not denied, just closed: {lines:?}"
    );
    assert!(
        receiver.try_recv().expect("poll").is_none(),
        "nothing reached the denied address"
    );

    // The default policy denies the link-local range (cloud metadata).
    env.write_site("");
    std::fs::write(server.join("pushbroker.toml"), "[[service]]\nbroker = \"post\"\nname = \"metadata\"\nurl = \"http://169.254.169.254/latest/meta-data/\"\n").expect("config");
    env.commit(&work, &[("a", Some("2"))], "two", 1);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "metadata (post): failed, spooled for `pushbroker redeliver`: POST http://169.254.169.254/latest/meta-data/: refused before connecting: 169.254.169.254 is not a public address: the site's [network] policy denies it (the server admin can add it to [network] allow)"
        ]
    );
}
