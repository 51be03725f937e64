//! `install` and `uninstall`: hooks, existing hooks, starter config.

use crate::util::TestEnv;
use crate::util::http::Receiver;

#[test]
fn install_keeps_an_existing_hook_running_with_the_same_input() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.path("srv/acme/widgets.git");
    std::fs::create_dir_all(&server).expect("dir");
    env.git(
        &server,
        &["init", "--quiet", "--bare", "--initial-branch=main"],
    )
    .ok();
    let hook = server.join("hooks/post-receive");
    let seen = env.path("seen-by-old-hook");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n# the admin's own hook\ncat > '{}'\necho old hook ran >&2\n",
            seen.display()
        ),
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let run = env.pushbroker(&server, &["install", "."]).success();
    assert!(
        run.stdout.contains("kept the existing hook as"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("wrote a starter config to"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(server.join("pushbroker.toml")).expect("config"),
        include_str!("../config.example.toml")
    );
    // Installing twice changes nothing.
    let again = env.pushbroker(&server, &["install", "."]).success();
    assert!(!again.stdout.contains("kept"), "{}", again.stdout);
    std::fs::write(
        server.join("pushbroker.toml"),
        format!(
            "[[service]]\nbroker = \"post\"\nurl = \"{}\"\n",
            receiver.url("/")
        ),
    )
    .expect("config");

    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.stderr.contains("remote: old hook ran"),
        "{}",
        push.stderr
    );
    assert_eq!(
        push.remote_lines(),
        vec!["post-1 (post): delivered (HTTP 200)"]
    );
    assert_eq!(
        std::fs::read_to_string(&seen).expect("old hook input"),
        format!("0000000000000000000000000000000000000000 {head} refs/heads/main\n")
    );

    let run = env.pushbroker(&server, &["uninstall", "."]).success();
    assert!(
        run.stdout.contains("restored the previous hook"),
        "{}",
        run.stdout
    );
    assert!(
        std::fs::read_to_string(&hook)
            .expect("hook")
            .contains("# the admin's own hook")
    );
    assert!(!server.join("hooks/post-receive.before-pushbroker").exists());
    env.commit(&work, &[("a", Some("2"))], "two", 1);
    let push = env.push(&work, &server, &["main"]);
    assert!(push.remote_lines().is_empty(), "{}", push.stderr);
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn install_works_on_non_bare_repositories_and_reports_bad_paths() {
    let env = TestEnv::new();
    let work = env.work("site");
    env.pushbroker(&work, &["install", "."]).ok();
    assert!(work.join(".git/hooks/post-receive").exists());
    assert!(work.join(".git/pushbroker.toml").exists());
    let missing = env.path("nowhere");
    let run = env.pushbroker(&work, &["install", missing.to_str().expect("path")]);
    assert_eq!(run.status, 1);
    // One line in our words: no libgit2 `class=… code=…` tail, the path said once.
    assert_eq!(
        run.stderr,
        format!("pushbroker: {} does not exist\n", missing.display())
    );
    let plain = env.path("plain");
    std::fs::create_dir_all(&plain).expect("dir");
    let run = env.pushbroker(&work, &["install", plain.to_str().expect("path")]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        format!(
            "pushbroker: {} is not a Git or Mercurial repository\n",
            plain.display()
        )
    );
}

/// What `install.sh --list-packages [--deps]` prints, line by line.
fn install_sh_lists(args: &[&str]) -> Vec<String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run install.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn install_sh_installs_no_test_tool_on_a_production_server() {
    let plain = install_sh_lists(&["--list-packages"]);
    assert_eq!(
        plain,
        vec![
            "apt: git gcc libc6-dev make",
            "build: cargo build --release --locked -> /usr/local/bin/pushbroker",
        ]
    );
    let deps = install_sh_lists(&["--list-packages", "--deps"]);
    let apt = deps[0].split_whitespace().collect::<Vec<_>>();
    for tool in [
        "mercurial",
        "msmtp",
        "nodejs",
        "npm",
        "nats-server",
        "python3-venv",
    ] {
        assert!(apt.contains(&tool), "--deps installs {tool}: {deps:?}");
    }
    assert!(deps.contains(&"pip: aiosmtpd".to_string()), "{deps:?}");
    assert!(
        deps.contains(&"venv tests/.venv: buildbot==4.3.0".to_string()),
        "{deps:?}"
    );
    assert!(
        deps.iter()
            .any(|line| line.starts_with("npm tests/node: ") && line.contains("adaptivecards")),
        "{deps:?}"
    );
}

/// Runs install.sh (plain install) with a PATH that has no git, cc or make, so it must
/// install them, and an apt-get that reports the package lock held for its first
/// `locked` calls. Returns (exit code, stdout, stderr, apt-get calls).
fn install_sh_with_apt_locked(locked: usize, wait: &str) -> (i32, String, String, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    for tool in [
        "bash", "id", "grep", "sed", "sleep", "env", "dirname", "cat", "wc",
    ] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|dir| std::path::Path::new(dir).join(tool))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("no {tool}"));
        std::os::unix::fs::symlink(found, bin.join(tool)).expect("symlink");
    }
    let calls = dir.path().join("calls");
    let fake = |name: &str, text: String| {
        use std::os::unix::fs::PermissionsExt;
        let path = bin.join(name);
        std::fs::write(&path, text).expect("fake");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    fake(
        "apt-get",
        format!(
            "#!{}/bash\necho \"$*\" >> '{}'\nif [ \"$(wc -l < '{}')\" -le {locked} ]; then\n  echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)' >&2\n  exit 100\nfi\n",
            bin.display(),
            calls.display(),
            calls.display()
        ),
    );
    fake("sudo", format!("#!{}/bash\nexec \"$@\"\n", bin.display()));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let output = std::process::Command::new(bin.join("bash"))
        .arg(script)
        .env_clear()
        .env("PATH", &bin)
        .env("APT_LOCK_WAIT", wait)
        .env("APT_LOCK_POLL", "1")
        .output()
        .expect("run install.sh");
    let count = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .count();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        count,
    )
}

#[test]
fn install_sh_waits_for_the_apt_lock_and_says_so_in_plain_text() {
    // Held for two tries, then free: update goes through, then install.
    let (code, stdout, stderr, calls) = install_sh_with_apt_locked(2, "30");
    assert_eq!(
        calls, 4,
        "two refused tries, update, install: {stdout}{stderr}"
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![
            "==> installing git gcc libc6-dev make",
            "==> another apt or dpkg holds the package lock: waiting for it (up to 30s, APT_LOCK_WAIT)",
        ],
        "said once, no colour codes in a redirected log"
    );
    // No cargo on this PATH: it stops there, after the packages.
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("install.sh: no Rust toolchain"), "{stderr}");

    // Held for longer than APT_LOCK_WAIT: gives up saying why.
    let (code, _, stderr, calls) = install_sh_with_apt_locked(1000, "2");
    assert_eq!(code, 1);
    assert!((2..=4).contains(&calls), "{calls} tries in 2 s");
    assert_eq!(
        stderr.trim(),
        "install.sh: another apt or dpkg still holds the package lock after 2s (APT_LOCK_WAIT); let it finish and run me again"
    );
}
