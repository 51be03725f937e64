//! Messages a person can act on: one line in our words (no libgit2 `class=… code=…`
//! tails), a Mercurial example for Mercurial, Mercurial named in `--help`, and the
//! pusher named from what the server knows when `USER` is unset.

use std::process::Command;

use crate::util::{BIN, Run, TestEnv};

const ZERO: &str = "0000000000000000000000000000000000000000";

fn run(mut command: Command) -> Run {
    let output = command.output().expect("run pushbroker");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn check_outside_a_repository_says_so_in_one_line() {
    let env = TestEnv::new();
    let outside = env.path("home");
    let run = env.pushbroker(&outside, &["check"]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        "pushbroker: error: not inside a Git or Mercurial repository: run it in one, or name one (e.g. /srv/git/widgets.git)\n"
    );
    let run = env.pushbroker(&outside, &["check", "."]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        "pushbroker: error: . is not a Git or Mercurial repository\n"
    );
}

#[test]
fn payload_with_an_unknown_revision_says_what_to_name() {
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let run = env.pushbroker(&server, &["payload", "nonsense", ZERO, "refs/heads/main"]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        "pushbroker: error: unknown revision \"nonsense\": name a commit id, a branch, a tag, `HEAD~1`, or 40 zeros for none\n"
    );
}

#[test]
fn payload_in_a_mercurial_repository_without_rev_gives_a_mercurial_example() {
    let env = TestEnv::new();
    let server = env.hg_server("acme", "widgets", "");
    let run = env.pushbroker(&server, &["payload"]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        format!(
            "pushbroker: error: {} is a Mercurial repository: name the changesets with --rev REVSET, e.g. `pushbroker payload --rev tip` or `--rev \"-3:\"`\n",
            server.display()
        )
    );
}

#[test]
fn help_names_git_and_mercurial() {
    let env = TestEnv::new();
    let run = env.pushbroker(&env.path("home"), &["--help"]).success();
    let about = run.stdout.lines().next().expect("a first line");
    assert_eq!(
        about,
        "Service integration for self-hosted Git and Mercurial servers: on every push, run the repository's configured services (email, POST, chat, …)"
    );
}

/// The `user` of the payload of one push, run with `USER` and `LOGNAME` unset and
/// `envs` set.
fn pusher(env: &TestEnv, envs: &[(&str, &str)]) -> String {
    let server = env.server("acme", "widgets", "");
    let work = env.work("widgets");
    let id = env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let mut command = env.command(BIN);
    command
        .current_dir(&server)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .envs(envs.iter().copied())
        .args(["payload", ZERO, &id, "refs/heads/main"]);
    let run = run(command).success();
    let payload: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    payload["user"].as_str().expect("user").to_string()
}

#[test]
fn without_user_the_pusher_is_the_account_the_hook_runs_as() {
    let env = TestEnv::new();
    let account = Command::new("id").arg("-un").output().expect("id -un");
    let account = String::from_utf8_lossy(&account.stdout).trim().to_string();
    assert!(!account.is_empty());
    assert_eq!(pusher(&env, &[]), account);
}

#[test]
fn the_servers_own_variables_name_the_pusher_before_user() {
    let env = TestEnv::new();
    assert_eq!(
        pusher(
            &env,
            &[("GOGS_AUTH_USER_NAME", "gogs-bob"), ("USER", "git")]
        ),
        "gogs-bob"
    );
    let env = TestEnv::new();
    assert_eq!(
        pusher(
            &env,
            &[
                ("GITEA_PUSHER_NAME", "carol"),
                ("REMOTE_USER", "web-carol"),
                ("USER", "git")
            ]
        ),
        "carol"
    );
    let env = TestEnv::new();
    assert_eq!(
        pusher(&env, &[("REMOTE_USER", "dave"), ("USER", "www-data")]),
        "dave"
    );
}
