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
