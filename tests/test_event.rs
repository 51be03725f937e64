//! `pushbroker test`: a test delivery says it is one wherever a person reads it (the
//! email's subject, body and headers, every chat message, a header on every POST, the
//! log), and works on a repository with no commits yet (GitHub format: a `ping`).

use std::path::{Path, PathBuf};

use crate::email::Mail;
use crate::util::http::{Received, Receiver};
use crate::util::{TestEnv, files_under, log_lines};

/// The services of these tests: an email (file transport), a Slack webhook, a JSON POST,
/// a GitHub-format POST and a GitLab-format POST, all to `receiver`.
fn services(receiver: &Receiver) -> String {
    format!(
        "[[service]]\nbroker = \"email\"\nname = \"list\"\nto = \"dev@example.com\"\n\n\
         [[service]]\nbroker = \"slack\"\nname = \"chat\"\nurl = \"{}\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"{}\"\nformat = \"json\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"gl\"\nurl = \"{}\"\nformat = \"gitlab\"\n",
        receiver.url("/slack"),
        receiver.url("/ci"),
        receiver.url("/gh"),
        receiver.url("/gl"),
    )
}

fn at<'a>(requests: &'a [Received], path: &str) -> Vec<&'a Received> {
    requests
        .iter()
        .filter(|request| request.url == path)
        .collect()
}

fn mails(server: &Path) -> Vec<(PathBuf, Mail)> {
    files_under(&server.join("pushbroker/outbox"))
        .into_iter()
        .map(|path| {
            let mail = Mail::parse(&std::fs::read(&path).expect("eml"));
            (path, mail)
        })
        .collect()
}

#[test]
fn a_test_delivery_says_it_is_a_test_in_the_email_the_chat_the_request_and_the_log() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &services(&receiver));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "Add the frobnicator", 0);
    env.push(&work, &server, &["main"]).ok();
    let test = env.pushbroker(&server, &["test"]).success();
    assert_eq!(test.stdout.lines().count(), 5, "{}", test.stdout);
    let requests = receiver.requests();

    // The push's chat message and the test's, identical but for the tag.
    let chat = at(&requests, "/slack");
    assert_eq!(chat.len(), 2);
    let (push_text, test_text) = (
        chat[0].json()["text"].as_str().expect("text").to_string(),
        chat[1].json()["text"].as_str().expect("text").to_string(),
    );
    assert!(!push_text.contains("[test]"), "{push_text}");
    let headline = |text: &str| text.lines().next().expect("a line").to_string();
    assert_eq!(
        headline(&test_text),
        headline(&push_text).replace(": alice pushed", ": [test] alice pushed"),
        "{test_text}"
    );

    // Every POST of the test carries the header, the push's do not.
    for path in ["/ci", "/gh", "/gl"] {
        let posts = at(&requests, path);
        assert_eq!(posts.len(), 2, "{path}");
        assert_eq!(posts[0].header_opt("X-Pushbroker-Test"), None, "{path}");
        assert_eq!(posts[1].header("X-Pushbroker-Test"), "true", "{path}");
    }
    // GitHub format: the test of a repository with commits is a push event, as GitHub's
    // own "test" of a hook sends the latest push.
    assert_eq!(at(&requests, "/gh")[1].header("X-GitHub-Event"), "push");
    assert_eq!(at(&requests, "/ci")[1].json()["test"], true);

    // The email: subject tagged, body opening with the note, a header for filters.
    let mut mails = mails(&server);
    mails.sort_by_key(|(_, mail)| mail.subject.contains("[test]"));
    assert_eq!(mails.len(), 2);
    let (real, test_mail) = (&mails[0].1, &mails[1].1);
    assert_eq!(real.subject, "[widgets] Add the frobnicator");
    assert_eq!(test_mail.subject, "[test] [widgets] Add the frobnicator");
    assert_eq!(
        test_mail.body.lines().next(),
        Some("This is a test delivery (`pushbroker test`), not a push: nothing was pushed.")
    );
    assert!(test_mail.body.ends_with(&real.body), "{}", test_mail.body);
    assert_eq!(test_mail.header("X-Pushbroker-Test"), "true");
    assert!(!real.raw.contains("X-Pushbroker-Test"));

    // The log marks the test's attempts, not the push's.
    let lines = log_lines(&server);
    assert_eq!(lines.len(), 10);
    assert!(lines[..5].iter().all(|line| line.get("test").is_none()));
    assert!(lines[5..].iter().all(|line| line["test"] == true));
}

#[test]
fn test_on_a_git_repository_without_commits_sends_an_event_with_no_changesets() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &services(&receiver));
    let test = env.pushbroker(&server, &["test"]);
    assert_eq!(test.status, 0, "{}{}", test.stdout, test.stderr);
    let mails = mails(&server);
    assert_eq!(mails.len(), 1);
    assert_eq!(
        test.stdout,
        format!(
            "pushbroker: list (email): delivered (written to {})\n\
             pushbroker: chat (slack): delivered (HTTP 200)\n\
             pushbroker: ci (post): delivered (HTTP 200)\n\
             pushbroker: gh (post): delivered (HTTP 200)\n\
             pushbroker: gl (post): skipped: GitLab sends no test push before the first commit\n",
            mails[0].0.display()
        )
    );
    let requests = receiver.requests();
    let payload = at(&requests, "/ci")[0].json();
    assert_eq!(payload["test"], true);
    assert_eq!(payload["commits"], serde_json::json!([]));
    assert_eq!(payload["refs"], serde_json::json!([]));
    assert_eq!(payload["total_commits"], 0);
    // GitHub format: GitHub's ping, as when a hook is created.
    let ping = at(&requests, "/gh")[0];
    assert_eq!(ping.header("X-GitHub-Event"), "ping");
    assert_eq!(ping.header("X-Pushbroker-Test"), "true");
    let event = ping.json();
    assert_eq!(event["zen"], "Keep it logically awesome.");
    assert_eq!(event["hook"]["id"], event["hook_id"]);
    assert_eq!(event["hook"]["events"], serde_json::json!(["push"]));
    assert_eq!(event["repository"]["full_name"], "acme/widgets");
    let file = env.path("ping.json");
    std::fs::write(&file, ping.body_text()).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/validate-event.mjs");
    let checked = std::process::Command::new("node")
        .arg(&script)
        .args(["ping".as_ref(), file.as_os_str()])
        .output()
        .unwrap_or_else(|error| panic!("node is missing ({error}): run ./install.sh --deps"));
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout),
        "ok\n",
        "GitHub's schema of the ping event"
    );
    assert!(at(&requests, "/gl").is_empty());
    let chat = at(&requests, "/slack")[0].json();
    assert!(
        chat["text"]
            .as_str()
            .expect("text")
            .ends_with(": [test] alice tested this service; acme/widgets has no commits yet"),
        "{chat}"
    );
    assert_eq!(
        mails[0].1.subject,
        "[test] [widgets] alice tested this service; the repository has no commits yet"
    );
}

#[test]
fn test_on_a_mercurial_repository_without_changesets_sends_an_event_with_none() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.hg_server(
        "acme",
        "widgets",
        &crate::util::post_json("ci", &receiver.url("/ci"), ""),
    );
    let test = env.pushbroker(&server, &["test"]);
    assert_eq!(test.status, 0, "{}{}", test.stdout, test.stderr);
    assert_eq!(test.stdout, "pushbroker: ci (post): delivered (HTTP 200)\n");
    let payload = receiver.only().json();
    assert_eq!(payload["test"], true);
    assert_eq!(payload["repository"]["scm"], "hg");
    assert_eq!(payload["commits"], serde_json::json!([]));
    assert_eq!(payload["refs"], serde_json::json!([]));
}
