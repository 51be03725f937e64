//! The `email` broker on huge pushes: each cap cuts what it says and tells the reader,
//! and every line break of the message goes out as CRLF.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::email::{Mail, raw_commit};
use crate::util::{TestEnv, files_under, short};

const SITE: &str = "canon_url = \"https://code.example.com\"\n";
const EMAIL: &str = "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\n";
const HEAD: &str =
    "alice pushed 1 new changeset to acme/widgets (https://code.example.com/acme/widgets).\n\n";

fn signature() -> String {
    format!(
        "\n-- \npushbroker {} for https://code.example.com/acme/widgets\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A server with `config`, a work clone with one commit pushed, and the outbox emptied.
fn setup(config: &str) -> (TestEnv, PathBuf, PathBuf, String) {
    let env = TestEnv::new();
    env.write_site(SITE);
    let server = env.server("acme", "widgets", config);
    let work = env.work("widgets");
    let base = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    std::fs::remove_dir_all(outbox(&server)).expect("empty the outbox");
    (env, server, work, base)
}

fn outbox(server: &Path) -> PathBuf {
    server.join("pushbroker/outbox")
}

/// The one email the last push wrote, raw and parsed.
fn only_email(server: &Path) -> (Vec<u8>, Mail) {
    let files = files_under(&outbox(server));
    assert_eq!(files.len(), 1, "{files:?}");
    let raw = std::fs::read(&files[0]).expect("eml");
    let mail = Mail::parse(&raw);
    (raw, mail)
}

fn fast_import(env: &TestEnv, work: &Path, input: &str) {
    let mut child = env
        .command("git")
        .current_dir(work)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
}

fn delivered(push: &crate::util::Run) {
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("email-1 (email): delivered (written to "),
        "{lines:?}"
    );
}

#[test]
fn a_5_mb_message_is_cut_at_64_kib_on_a_line_end_with_a_line_saying_so() {
    let (env, server, work, base) = setup(EMAIL);
    let mut message = String::from("Huge message\n\n");
    let mut n = 0;
    while message.len() < 5_000_000 {
        message.push_str(&format!("line {n:07} of the message\n"));
        n += 1;
    }
    assert_eq!(message.len(), 5_000_002);
    let id = raw_commit(&env, &work, b"Rene", None, message.as_bytes());
    delivered(&env.push(&work, &server, &["main"]));

    let (_, mail) = only_email(&server);
    assert_eq!(mail.subject, "[widgets] Huge message");
    // 14 bytes of subject and blank line, then 28-byte lines: 2,340 end within 65,536.
    let shown: String = (0..2340)
        .map(|n| format!("    line {n:07} of the message\n"))
        .collect();
    let expected = format!(
        "{HEAD}  updated branch main from {} to {}\n\n\
         Changeset {}\n\
         Author: Rene <rene@example.com>\n\
         Date:   2026-11-27 10:00:00 (2026-11-27 09:00:00 UTC)\n\
         Branch: main\n\
         Link:   https://code.example.com/acme/widgets/commits/{id}\n\n\
         \x20   Huge message\n\n\
         {shown}\
         \x20   … (message cut at 64 KiB; 5,000,002 bytes in all)\n{}",
        short(&base),
        short(&id),
        short(&id),
        signature()
    );
    assert_eq!(mail.body, expected);
}

#[test]
fn a_push_of_250_tags_lists_the_first_100_and_counts_the_rest() {
    let (env, server, work, base) = setup(EMAIL);
    let resets: String = (0..250)
        .map(|n| format!("reset refs/tags/t{n:03}\nfrom {base}\n\n"))
        .collect();
    fast_import(&env, &work, &resets);
    delivered(&env.push(&work, &server, &["--tags"]));

    let (_, mail) = only_email(&server);
    assert_eq!(mail.subject, "[widgets] alice updated 250 refs");
    let listed: String = (0..100)
        .map(|n| format!("  created tag t{n:03} at {}\n", short(&base)))
        .collect();
    let expected = format!(
        "alice pushed no new changesets to acme/widgets (https://code.example.com/acme/widgets).\n\n\
         {listed}  … and 150 more refs\n{}",
        signature()
    );
    assert_eq!(mail.body, expected);
}

#[test]
fn every_line_break_goes_out_as_crlf_and_a_lone_cr_breaks_the_line() {
    let (env, server, work, _) = setup(
        "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\ndiff = true\nmax_commits = 2\n",
    );
    env.commit(
        &work,
        &[("mixed.txt", Some("a\r\nb\nc\rd\n"))],
        "Add mixed endings",
        1,
    );
    raw_commit(
        &env,
        &work,
        b"Rene",
        None,
        b"Mixed endings\n\none\r\ntwo\nthree\rfour\r\n",
    );
    delivered(&env.push(&work, &server, &["main"]));

    let (raw, mail) = only_email(&server);
    for (at, byte) in raw.iter().enumerate() {
        match byte {
            b'\r' => assert_eq!(raw.get(at + 1), Some(&b'\n'), "a CR alone at byte {at}"),
            b'\n' => assert_eq!(raw[at.saturating_sub(1)], b'\r', "an LF alone at byte {at}"),
            _ => {}
        }
    }
    assert!(
        mail.body
            .contains("+++ b/mixed.txt\n@@ -0,0 +1,3 @@\n+a\n+b\n+c\nd\n\n[2/2] Changeset"),
        "{}",
        mail.body
    );
    assert!(
        mail.body
            .contains("Link:   https://code.example.com/acme/widgets/commits/")
            && mail.body.contains(
                "\n\n    Mixed endings\n\n    one\n    two\n    three\n    four\n\n\n-- \n"
            ),
        "{:?}",
        mail.body
    );
}

#[test]
fn a_commit_adding_100000_files_lists_the_first_1000_and_counts_the_rest() {
    let (env, server, work, base) = setup(EMAIL);
    let mut import = String::from("blob\nmark :1\ndata 5\nwide\n\ncommit refs/heads/main\n");
    import.push_str("author Alice Example <alice@example.com> 1795770000 +0100\n");
    import.push_str("committer Alice Example <alice@example.com> 1795770000 +0100\n");
    import.push_str(&format!("data 11\nWide commit\nfrom {base}\n"));
    for n in 0..100_000 {
        import.push_str(&format!("M 100644 :1 d{:03}/f{n:05}.txt\n", n / 100));
    }
    fast_import(&env, &work, &import);
    delivered(&env.push(&work, &server, &["main"]));

    let (_, mail) = only_email(&server);
    assert_eq!(mail.subject, "[widgets] Wide commit");
    let listed: String = (0..1000)
        .map(|n| format!("  A d{:03}/f{n:05}.txt\n", n / 100))
        .collect();
    let files = mail.body.split("\nFiles:\n").nth(1).expect("a file list");
    assert_eq!(
        files,
        format!("{listed}  … and 99,000 more files\n{}", signature())
    );
}

#[test]
fn a_body_past_its_cap_stops_at_a_line_end_and_says_how_much_was_shown() {
    let (env, server, work, _) = setup(&format!("{EMAIL}max_body_bytes = 4096\nmax_files = 1\n"));
    let paragraph: String = (0..100)
        .map(|n| format!("detail {n:02} of the change\n"))
        .collect();
    for n in 1..=3 {
        env.commit(
            &work,
            &[(&format!("f{n}"), Some("x")), (&format!("g{n}"), Some("y"))],
            &format!("Change {n}\n\n{paragraph}"),
            n,
        );
    }
    delivered(&env.push(&work, &server, &["main"]));

    let (_, mail) = only_email(&server);
    assert_eq!(mail.subject, "[widgets] 3 new changesets on main by alice");
    let notice = format!(
        "\n… (email cut at 4 KiB; 1 of 3 changesets shown in full)\n{}",
        signature()
    );
    let shown = mail
        .body
        .strip_suffix(&notice)
        .unwrap_or_else(|| panic!("no cut notice at the end:\n{}", mail.body));
    assert!(shown.len() <= 4096 && shown.len() > 3500, "{}", shown.len());
    assert!(shown.ends_with('\n'), "cut at a line end: {shown:?}");
    assert!(
        shown.contains("\nFiles:\n  A f1\n  … and 1 more file\n\n[2/3] Changeset"),
        "{shown}"
    );
    assert!(!shown.contains("[3/3]"), "{shown}");
}
