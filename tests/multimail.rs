//! What git-multimail users expect of the `email` broker: a force push's email lists the
//! changesets it discarded, a deleted branch's email its old tip, and `per_commit = true`
//! sends one email per changeset threaded under the push's summary.

use std::path::{Path, PathBuf};

use crate::email::Mail;
use crate::util::{TestEnv, files_under, short};

const SITE: &str = "canon_url = \"https://code.example.com\"\n";
const EMAIL: &str = "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\n";

fn outbox(server: &Path) -> PathBuf {
    server.join("pushbroker/outbox")
}

/// Every email the last push wrote, parsed, in file-name order; the outbox is emptied.
fn take_emails(server: &Path) -> Vec<(String, Mail)> {
    let files = files_under(&outbox(server));
    let mails = files
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, Mail::parse(&std::fs::read(path).expect("eml")))
        })
        .collect();
    let _ = std::fs::remove_dir_all(outbox(server));
    mails
}

/// A server with `config` and a work clone with `base`, `one` and `two` pushed to main.
fn setup(config: &str) -> (TestEnv, PathBuf, PathBuf, [String; 3]) {
    let env = TestEnv::new();
    env.write_site(SITE);
    let server = env.server("acme", "widgets", config);
    let work = env.work("widgets");
    let base = env.commit(&work, &[("a", Some("1"))], "Base", 0);
    let one = env.commit(&work, &[("a", Some("2"))], "First try", 1);
    let two = env.commit(&work, &[("a", Some("3"))], "Second try\n\nwith a body", 2);
    env.push(&work, &server, &["main"]);
    take_emails(&server);
    (env, server, work, [base, one, two])
}

fn body_between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in:\n{body}"));
    let rest = &body[from..];
    let to = rest.find(end).unwrap_or(rest.len());
    &rest[..to]
}

#[test]
fn a_force_push_lists_the_changesets_it_discarded() {
    let (env, server, work, [base, one, two]) = setup(EMAIL);
    env.git(&work, &["reset", "--quiet", "--hard", &base]).ok();
    let three = env.commit(&work, &[("b", Some("x"))], "Done right", 3);
    env.push(&work, &server, &["+main"]);

    let mails = take_emails(&server);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0].1;
    assert_eq!(mail.subject, "[widgets] Done right");
    let expected = format!(
        "alice pushed 1 new changeset to acme/widgets (https://code.example.com/acme/widgets).\n\n\
         \x20 force-updated branch main from {two_s} to {three_s}\n\n\
         This push discarded 2 changesets from branch main (they stay in the repository only while another ref reaches them):\n\
         \x20 discards {one_s} First try\n\
         \x20 discards {two_s} Second try\n\n\
         Changeset {three_s}\n",
        one_s = short(&one),
        two_s = short(&two),
        three_s = short(&three),
    );
    assert_eq!(
        body_between(&mail.body, "alice pushed", "Author:"),
        expected
    );
}

#[test]
fn a_rewind_without_new_changesets_lists_what_it_discarded() {
    let (env, server, work, [base, one, two]) = setup(EMAIL);
    env.git(&work, &["reset", "--quiet", "--hard", &base]).ok();
    env.push(&work, &server, &["+main"]);

    let mails = take_emails(&server);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0].1;
    assert_eq!(
        mail.subject,
        format!(
            "[widgets] alice force-updated branch main from {} to {}",
            short(&two),
            short(&base)
        )
    );
    let expected = format!(
        "This push discarded 2 changesets from branch main (they stay in the repository only while another ref reaches them):\n\
         \x20 discards {} First try\n\
         \x20 discards {} Second try\n\n-- \n",
        short(&one),
        short(&two),
    );
    assert_eq!(
        body_between(&mail.body, "This push discarded", "pushbroker "),
        expected
    );
}

#[test]
fn a_deleted_branch_email_shows_its_old_tip() {
    let (env, server, work, _) = setup(EMAIL);
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let tip = env.commit(&work, &[("f", Some("1"))], "Feature work", 5);
    env.push(&work, &server, &["feature"]);
    take_emails(&server);
    env.push(&work, &server, &[":feature"]);

    let mails = take_emails(&server);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0].1;
    assert_eq!(
        mail.subject,
        format!(
            "[widgets] alice deleted branch feature (was {})",
            short(&tip)
        )
    );
    let expected = format!(
        "\x20 deleted branch feature (was {tip_s})\n\n\
         Branch feature was deleted; it pointed at:\n\
         \x20 was {tip_s} Feature work\n\n-- \n",
        tip_s = short(&tip),
    );
    assert_eq!(
        body_between(&mail.body, "  deleted branch", "pushbroker "),
        expected
    );
}

#[test]
fn the_payload_of_a_forced_update_carries_the_discarded_changesets() {
    let (env, server, work, [base, one, two]) = setup(EMAIL);
    env.git(&work, &["reset", "--quiet", "--hard", &base]).ok();
    env.push(&work, &server, &["+main"]);
    let run = env
        .pushbroker(&server, &["payload", &two, &base, "refs/heads/main"])
        .success();
    let payload: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(payload["refs"][0]["forced"], true);
    assert_eq!(
        payload["refs"][0]["discarded"],
        serde_json::json!({
            "commits": [
                {"node": short(&one), "raw_node": one, "summary": "First try"},
                {"node": short(&two), "raw_node": two, "summary": "Second try"},
            ],
            "total": 2,
        })
    );
    // A fast-forward discards nothing: the field is absent.
    let run = env
        .pushbroker(&server, &["payload", &base, &two, "refs/heads/main"])
        .success();
    let payload: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(payload["refs"][0].get("discarded").is_none(), "{payload}");
}

#[test]
fn per_commit_sends_a_summary_and_one_email_per_changeset_threaded_under_it() {
    let (env, server, work, [_, _, two]) = setup(&format!("{EMAIL}per_commit = true\n"));
    let three = env.commit(&work, &[("b", Some("1"))], "Third change", 3);
    let four = env.commit(&work, &[("b", Some("2"))], "Fourth change", 4);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("email-1 (email): delivered (written to ")
            && lines[0].ends_with(".eml; and 2 changeset emails)"),
        "{lines:?}"
    );

    let mails = take_emails(&server);
    assert_eq!(mails.len(), 3, "a summary and one email per changeset");
    let by_name = |suffix: &str| {
        &mails
            .iter()
            .find(|(name, _)| {
                name.ends_with(suffix) && name.matches('.').count() == suffix.matches('.').count()
            })
            .unwrap_or_else(|| panic!("no *{suffix}"))
            .1
    };
    let summary = by_name(".eml");
    assert_eq!(
        summary.subject,
        "[widgets] 2 new changesets on main by alice"
    );
    let summary_id = summary.header("Message-ID");
    let delivery = summary.header("X-Pushbroker-Delivery");
    assert!(
        summary_id.starts_with(&format!("<{delivery}@")),
        "{summary_id}"
    );
    assert_eq!(
        body_between(&summary.body, "alice pushed", "-- \n"),
        format!(
            "alice pushed 2 new changesets to acme/widgets (https://code.example.com/acme/widgets).\n\n\
             \x20 updated branch main from {} to {}\n\n\
             Each changeset follows in an email of its own:\n\
             \x20 [1/2] {} Third change\n\
             \x20 [2/2] {} Fourth change\n\n",
            short(&two),
            short(&four),
            short(&three),
            short(&four)
        )
    );

    for (number, id, title) in [(1, &three, "Third change"), (2, &four, "Fourth change")] {
        let mail = by_name(&format!(".{number}.eml"));
        assert_eq!(mail.subject, format!("[widgets] [{number}/2] {title}"));
        assert_eq!(mail.header("In-Reply-To"), summary_id);
        assert_eq!(mail.header("References"), summary_id);
        assert_eq!(
            mail.header("Message-ID"),
            summary_id.replacen('@', &format!(".{number}@"), 1)
        );
        assert_eq!(mail.header("X-Git-Rev"), *id);
        assert_eq!(mail.header("X-Pushbroker-Delivery"), delivery);
        let expected = format!(
            "alice pushed this changeset to acme/widgets (https://code.example.com/acme/widgets).\n\n\
             Changeset {}\n\
             Author: Alice Example <alice@example.com>\n",
            short(id)
        );
        assert_eq!(body_between(&mail.body, "alice pushed", "Date:"), expected);
        assert!(
            mail.body.contains(&format!("\n    {title}\n")),
            "{}",
            mail.body
        );
    }
}

#[test]
fn per_commit_off_is_one_email_per_push() {
    let (env, server, work, _) = setup(EMAIL);
    env.commit(&work, &[("b", Some("1"))], "Third change", 3);
    env.commit(&work, &[("b", Some("2"))], "Fourth change", 4);
    env.push(&work, &server, &["main"]);
    let mails = take_emails(&server);
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].1.subject,
        "[widgets] 2 new changesets on main by alice"
    );
}
#[test]
fn payload_service_prints_the_email_as_text_with_every_per_commit_email() {
    let (env, server, _, [base, one, two]) = setup(&format!("{EMAIL}per_commit = true\n"));
    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--service",
                "email-1",
                &base,
                &two,
                "refs/heads/main",
            ],
        )
        .success();
    let text = &run.stdout;
    assert!(
        text.contains("Subject: [widgets] 2 new changesets on main by alice\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  [1/2] {} First try\n", short(&one))),
        "{text}"
    );
    assert!(
        text.contains("\n--- changeset email 1 of 2 ---\n"),
        "{text}"
    );
    assert!(
        text.contains("Subject: [widgets] [2/2] Second try\n"),
        "{text}"
    );
    assert!(text.contains(&format!("X-Git-Rev: {two}\n")), "{text}");
    assert!(
        !text.trim_start().starts_with('{'),
        "not the JSON payload: {text}"
    );
}

#[test]
fn payload_service_prints_a_post_body_in_the_services_format() {
    let (env, server, _, [base, _, two]) = setup(EMAIL);
    std::fs::write(
        server.join("pushbroker.toml"),
        "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"https://ci.example.com/hook\"\nformat = \"github\"\n\
         [[service]]\nbroker = \"post\"\nname = \"plain\"\nurl = \"https://ci.example.com/plain\"\nformat = \"json\"\n",
    )
    .expect("config");
    let run = env
        .pushbroker(
            &server,
            &["payload", "--service", "gh", &base, &two, "refs/heads/main"],
        )
        .success();
    let event: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON body");
    assert_eq!(event["ref"], "refs/heads/main");
    assert_eq!(event["before"], base.as_str());
    assert_eq!(event["after"], two.as_str());
    assert_eq!(event["commits"].as_array().map(Vec::len), Some(2));

    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--service",
                "plain",
                &base,
                &two,
                "refs/heads/main",
            ],
        )
        .success();
    let body: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON body");
    assert_eq!(body["total_commits"], 2);
    assert!(
        body.get("broker").is_none(),
        "the POST body has no broker: {body}"
    );

    // --format still gives the native payload, with the service's options.
    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                "--service",
                "plain",
                "--format",
                "native",
                &base,
                &two,
                "refs/heads/main",
            ],
        )
        .success();
    let native: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(native["broker"], "post");
    assert_eq!(native["service"]["name"], "plain");
}

#[test]
fn a_force_push_lists_the_newest_100_discarded_and_counts_the_rest() {
    let (env, server, work, [base, _, two]) = setup(EMAIL);
    let mut ids = vec![two];
    for minute in 3..104 {
        ids.push(env.commit(&work, &[], &format!("Step {minute}"), minute));
    }
    env.push(&work, &server, &["main"]);
    take_emails(&server);
    env.git(&work, &["reset", "--quiet", "--hard", &base]).ok();
    env.push(&work, &server, &["+main"]);

    let mails = take_emails(&server);
    assert_eq!(mails.len(), 1);
    let body = &mails[0].1.body;
    let section = body_between(body, "This push discarded", "\n\n");
    let lines: Vec<&str> = section.lines().collect();
    assert_eq!(
        lines[0],
        "This push discarded 103 changesets from branch main (they stay in the repository only while another ref reaches them):"
    );
    assert_eq!(lines[1], "  … and 3 older");
    assert_eq!(lines.len(), 102, "the heading, the count, 100 changesets");
    assert_eq!(lines[2], format!("  discards {} Step 4", short(&ids[2])));
    assert_eq!(
        lines[101],
        format!("  discards {} Step 103", short(ids.last().expect("ids")))
    );
}

#[test]
fn per_commit_in_mercurial_names_each_changesets_node() {
    let env = TestEnv::new();
    env.write_site(SITE);
    let server = env.hg_server("acme", "widgets", &format!("{EMAIL}per_commit = true\n"));
    let work = env.hg_work("widgets");
    let first = env.hg_commit(&work, &[("a", Some("1"))], "First", 0);
    let second = env.hg_commit(&work, &[("a", Some("2"))], "Second", 1);
    env.hg(&work, &["push", server.to_str().expect("path")])
        .ok();

    let outbox = server.join(".hg/pushbroker/outbox");
    let mut mails: Vec<(String, Mail)> = files_under(&outbox)
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, Mail::parse(&std::fs::read(path).expect("eml")))
        })
        .collect();
    mails.sort_by_key(|(name, _)| name.matches('.').count());
    assert_eq!(
        mails.len(),
        3,
        "{:?}",
        mails.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    let summary_id = mails[0].1.header("Message-ID");
    let mut nodes = Vec::new();
    for (_, mail) in &mails[1..] {
        assert_eq!(mail.header("In-Reply-To"), summary_id);
        nodes.push((mail.subject.clone(), mail.header("X-Hg-Node")));
    }
    nodes.sort();
    assert_eq!(
        nodes,
        vec![
            ("[widgets] [1/2] First".to_string(), first),
            ("[widgets] [2/2] Second".to_string(), second),
        ]
    );
}
