//! Never lost, for real: the write-ahead journal (a hook killed mid-delivery leaves its
//! deliveries to `redeliver`, with their ids), signals, and the bounded delivery pool.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::http::Receiver;
use crate::util::{BIN, TestEnv, post_json};

/// The spool's entries (`<id>.json` at its top), sorted.
pub fn spooled(server: &Path) -> Vec<PathBuf> {
    crate::util::files_under(&server.join("pushbroker/spool"))
        .into_iter()
        .filter(|path| {
            path.parent() == Some(&server.join("pushbroker/spool"))
                && path.extension().is_some_and(|ext| ext == "json")
        })
        .collect()
}

pub fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("a name")
        .to_string_lossy()
        .into_owned()
}

/// The `pushbroker hook` process running in `server` (its working directory), waiting
/// for it at most 10 s.
fn hook_pid(server: &Path) -> u32 {
    let binary = std::fs::canonicalize(BIN).expect("binary");
    let server = std::fs::canonicalize(server).expect("server");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let exe = std::fs::read_link(entry.path().join("exe"));
            let cwd = std::fs::read_link(entry.path().join("cwd"));
            if exe.is_ok_and(|exe| exe == binary) && cwd.is_ok_and(|cwd| cwd == server) {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no pushbroker hook process in {}", server.display());
}

fn wait_for_requests(receiver: &Receiver, count: usize) {
    let started = Instant::now();
    while receiver.requests().len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the receiver got {} of {count} requests",
            receiver.requests().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `git push` started in the background, its output captured.
fn start_push(env: &TestEnv, work: &Path, server: &Path) -> Child {
    env.command("git")
        .current_dir(work)
        .args(["push", "--quiet", server.to_str().expect("path"), "main"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git push")
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A push whose receiver holds the request, the hook killed with `signal` meanwhile:
/// returns the environment, the server, the id the receiver saw, the push's stderr, and
/// how long the hook took to end after the signal.
fn killed_push(signal: &str) -> (TestEnv, PathBuf, String, String, Duration) {
    let env = TestEnv::new();
    let hanging = Receiver::hanging(Duration::from_secs(30));
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &hanging.url("/"), "timeout = \"20s\""),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = start_push(&env, &work, &server);
    wait_for_requests(&hanging, 1);
    let id = hanging.only().header("X-Pushbroker-Delivery").to_string();
    let pid = hook_pid(&server);
    let signalled = Instant::now();
    kill(pid, signal);
    let output = push.wait_with_output().expect("push");
    let took = signalled.elapsed();
    assert!(output.status.success(), "the push itself is done");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (env, server, id, stderr, took)
}

/// `redeliver` to a receiver that answers at once: the delivery goes out once, with `id`.
fn redelivered_once(env: &TestEnv, server: &Path, id: &str) -> String {
    let receiver = Receiver::start();
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("ci", &receiver.url("/"), ""),
    )
    .expect("config");
    let run = env.pushbroker(server, &["redeliver"]).success();
    let request = receiver.only();
    assert_eq!(request.header("X-Pushbroker-Delivery"), id);
    assert_eq!(request.json()["delivery"], id);
    assert!(spooled(server).is_empty(), "{}", run.stdout);
    let again = env.pushbroker(server, &["redeliver"]).success();
    assert_eq!(again.stdout, "pushbroker: nothing to redeliver\n");
    assert_eq!(receiver.requests().len(), 1, "sent once");
    run.stdout
}

fn signal_stops_the_hook_and_spools_the_delivery(signal: &str) {
    let (env, server, id, stderr, took) = killed_push(signal);
    assert!(
        took < Duration::from_secs(2),
        "the hook took {took:?} to stop"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("remote: pushbroker: "))
        .map(str::trim_end)
        .collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "ci (post): failed, spooled for `pushbroker redeliver`: interrupted by {signal} before it finished"
            ),
            format!(
                "stopped by {signal}: what was not delivered is spooled for `pushbroker redeliver`"
            ),
        ],
        "{stderr}"
    );
    let entries = spooled(&server);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        stem(&entries[0]),
        id,
        "the spool keeps the id the receiver saw"
    );
    assert!(
        crate::util::files_under(&server.join("pushbroker/spool/journal")).is_empty(),
        "the journal is done with"
    );
    let out = redelivered_once(&env, &server, &id);
    assert_eq!(
        out,
        format!("pushbroker: {id}: ci (post): delivered (HTTP 200)\n")
    );
}

#[test]
fn sigterm_mid_delivery_spools_the_delivery_with_its_id() {
    signal_stops_the_hook_and_spools_the_delivery("SIGTERM");
}

#[test]
fn sigint_mid_delivery_spools_the_delivery_with_its_id() {
    signal_stops_the_hook_and_spools_the_delivery("SIGINT");
}

#[test]
fn sighup_mid_delivery_spools_the_delivery_with_its_id() {
    signal_stops_the_hook_and_spools_the_delivery("SIGHUP");
}

#[test]
fn a_hook_killed_by_sigkill_leaves_its_delivery_to_redeliver_with_its_id() {
    let env = TestEnv::new();
    let hanging = Receiver::hanging(Duration::from_secs(30));
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &hanging.url("/"), "timeout = \"20s\""),
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = start_push(&env, &work, &server);
    wait_for_requests(&hanging, 1);
    let id = hanging.only().header("X-Pushbroker-Delivery").to_string();

    // While the hook still holds it, redeliver leaves the delivery alone.
    let meanwhile = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(
        meanwhile.stdout,
        "pushbroker: 1 pushes are being delivered by a running hook: left to it\n\
         pushbroker: nothing to redeliver\n"
    );
    assert_eq!(hanging.requests().len(), 1, "not sent a second time");

    kill(hook_pid(&server), "KILL");
    let output = push.wait_with_output().expect("push");
    assert!(output.status.success(), "the push itself is done");
    let journals = crate::util::files_under(&server.join("pushbroker/spool/journal"));
    assert_eq!(journals.len(), 1, "the write-ahead journal is left");

    let receiver = Receiver::start();
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("ci", &receiver.url("/"), ""),
    )
    .expect("config");
    let run = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(
        run.stdout,
        format!(
            "pushbroker: 1 deliveries of pushes whose hook stopped before it finished are spooled\n\
             pushbroker: {id}: ci (post): delivered (HTTP 200)\n"
        )
    );
    let request = receiver.only();
    assert_eq!(request.header("X-Pushbroker-Delivery"), id);
    assert_eq!(request.json()["commits"][0]["raw_node"], head.as_str());
    assert!(spooled(&server).is_empty());
    assert!(crate::util::files_under(&server.join("pushbroker/spool/journal")).is_empty());
    let again = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(again.stdout, "pushbroker: nothing to redeliver\n");
    assert_eq!(receiver.requests().len(), 1, "sent once");
}

/// Tags `t000`… on `head` in the work repository, pushed at once: the push's stderr.
fn push_tags(env: &TestEnv, work: &Path, server: &Path, count: usize) -> crate::util::Run {
    for n in 0..count {
        env.git(work, &["tag", &format!("t{n:04}")]).ok();
    }
    env.git(
        work,
        &["push", "--quiet", server.to_str().expect("path"), "--tags"],
    )
    .success()
}

#[test]
fn a_push_of_many_tags_holds_at_most_per_host_connections_to_one_receiver() {
    let env = TestEnv::new();
    let receiver = Receiver::hanging(Duration::from_millis(30));
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let tags = 300;
    let push = push_tags(&env, &work, &server, tags);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), tags, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|line| line.ends_with(": delivered (HTTP 200)")),
        "{lines:?}"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), tags + 1, "every delivery once (and main's)");
    let mut ids: Vec<&str> = requests
        .iter()
        .map(|request| request.header("X-GitHub-Delivery"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        tags + 1,
        "each delivery has its own id, sent once"
    );
    let mut refs: Vec<String> = requests
        .iter()
        .map(|request| request.json()["ref"].as_str().expect("ref").to_string())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), tags + 1, "each ref delivered once");
    let peak = receiver.peak_open();
    assert!(
        peak <= 4,
        "{peak} requests at once to one host (per_host = 4)"
    );
    assert!(peak >= 2, "deliveries still run in parallel ({peak})");
    // Every delivery made, the write-ahead journal is gone.
    assert!(crate::util::files_under(&server.join("pushbroker/spool")).is_empty());
}

#[test]
fn per_host_and_workers_come_from_the_site_config() {
    let env = TestEnv::new();
    env.write_site("[limits]\nper_host = 2\nworkers = 3\n");
    let receiver = Receiver::hanging(Duration::from_millis(30));
    let other = Receiver::hanging(Duration::from_millis(30));
    // Two hosts: 127.0.0.1 and localhost, at most two at once each, three in all.
    let url = format!("http://localhost:{}/", other.port);
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"a\"\nurl = \"{}\"\nformat = \"github\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"b\"\nurl = \"{url}\"\nformat = \"github\"\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let push = push_tags(&env, &work, &server, 40);
    assert_eq!(push.remote_lines().len(), 80);
    assert_eq!(receiver.requests().len(), 41);
    assert_eq!(other.requests().len(), 41);
    assert!(receiver.peak_open() <= 2, "{}", receiver.peak_open());
    assert!(other.peak_open() <= 2, "{}", other.peak_open());
    assert!(receiver.peak_open() + other.peak_open() >= 3);
}

/// Runs the hook in `server` as an unprivileged account whose process limit lets it
/// start no thread at all (`prlimit --nproc=1`; as root, `setpriv` first drops to uid
/// 65534, since the limit does not bind root).
fn hook_without_threads(env: &TestEnv, server: &Path, input: &str) -> crate::util::Run {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .expect("id")
        .stdout
        == b"0\n";
    let mut args: Vec<String> = vec!["--nproc=1:1".into(), "--".into()];
    if root {
        // The account must reach the repository and write its state.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let chown = std::process::Command::new("chown")
            .args(["-R", "65534:65534", server.to_str().expect("path")])
            .status()
            .expect("chown");
        assert!(chown.success());
        args.extend(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
    }
    args.extend([BIN.to_string(), "hook".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = env.command("prlimit");
    command
        .current_dir(server)
        .env("GIT_DIR", server)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("prlimit");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("stdin");
    let output = child.wait_with_output().expect("wait");
    if root {
        // Back to the tests' own account, which Git wants as the owner.
        let chown = std::process::Command::new("chown")
            .args(["-R", "0:0", server.to_str().expect("path")])
            .status()
            .expect("chown");
        assert!(chown.success());
    }
    crate::util::Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_hook_that_cannot_start_a_thread_spools_every_delivery() {
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let receiver = Receiver::start();
    std::fs::write(
        server.join("pushbroker.toml"),
        format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n",
            receiver.url("/")
        ),
    )
    .expect("config");
    let tags: Vec<String> = (0..5).map(|n| format!("t{n}")).collect();
    let input: String = tags
        .iter()
        .map(|tag| {
            env.git(&server, &["tag", tag, &head]).ok();
            format!("{} {head} refs/tags/{tag}\n", "0".repeat(40))
        })
        .collect();
    let run = hook_without_threads(&env, &server, &input);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("pushbroker: "))
        .collect();
    let expected: Vec<String> = tags
        .iter()
        .map(|tag| {
            format!(
                "gh (post) {tag}: failed, spooled for `pushbroker redeliver`: could not start a delivery thread: Resource temporarily unavailable (os error 11)"
            )
        })
        .collect();
    assert_eq!(lines, expected, "{}", run.stderr);
    assert!(receiver.requests().is_empty());
    let ids: Vec<String> = spooled(&server).iter().map(|path| stem(path)).collect();
    assert_eq!(ids.len(), 5, "every delivery spooled");

    let again = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(again.stdout.lines().count(), 5, "{}", again.stdout);
    let mut sent: Vec<String> = receiver
        .requests()
        .iter()
        .map(|request| request.header("X-GitHub-Delivery").to_string())
        .collect();
    sent.sort();
    assert_eq!(sent, ids, "each delivered once, with its id");
}
