//! The `email` broker through a real SMTP server (aiosmtpd) and the file transport.

use mail_parser::MessageParser;

use crate::util::smtp::SmtpServer;
use crate::util::{TestEnv, short};

/// A parsed email: subject, plain body and every header as text.
pub struct Mail {
    pub subject: String,
    pub body: String,
    pub raw: String,
}

impl Mail {
    pub fn parse(bytes: &[u8]) -> Mail {
        let message = MessageParser::default().parse(bytes).expect("an email");
        Mail {
            subject: message.subject().expect("a subject").to_string(),
            body: message
                .body_text(0)
                .expect("a text body")
                .replace("\r\n", "\n"),
            raw: String::from_utf8_lossy(bytes).replace("\r\n", "\n"),
        }
    }

    /// The raw value of header `name` (first occurrence); panics when absent.
    pub fn header(&self, name: &str) -> String {
        let head = self.raw.split("\n\n").next().expect("headers");
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} header in:\n{head}"))
    }

    fn has_header(&self, name: &str) -> bool {
        let head = self.raw.split("\n\n").next().expect("headers");
        head.lines().any(|line| {
            line.split_once(':')
                .is_some_and(|(key, _)| key.eq_ignore_ascii_case(name))
        })
    }
}

fn smtp_env(smtp: &SmtpServer) -> TestEnv {
    let env = TestEnv::new();
    env.write_site(&format!(
        "canon_url = \"https://code.example.com\"\n[email]\ntransport = \"smtp\"\nsmtp_url = \"{}\"\nfrom = \"Code <code@example.com>\"\n",
        smtp.url()
    ));
    env
}

const LIST: &str =
    "[[service]]\nbroker = \"email\"\nname = \"dev-list\"\nto = [\"Dev List <dev@example.com>\"]\n";

#[test]
fn one_changeset_email_has_its_first_line_as_subject() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = smtp_env(&smtp);
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    let id = env.commit(
        &work,
        &[("src/lib.rs", Some("x"))],
        "Fix the frobnicator\n\nLonger text.",
        0,
    );
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("dev-list (email): delivered (SMTP 250"),
        "{lines:?}"
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let mail = Mail::parse(&messages[0]);
    assert_eq!(mail.subject, "[widgets] Fix the frobnicator");
    assert_eq!(mail.header("From"), "Code <code@example.com>");
    assert_eq!(mail.header("To"), "\"Dev List\" <dev@example.com>");
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    assert_eq!(mail.header("X-Git-Repo"), "acme/widgets");
    assert_eq!(mail.header("X-Git-Refname"), "refs/heads/main");
    assert_eq!(mail.header("X-Git-Oldrev"), "0".repeat(40));
    assert_eq!(mail.header("X-Git-Newrev"), id);
    let delivery = mail.header("X-Pushbroker-Delivery");
    assert!(
        mail.header("Message-ID")
            .starts_with(&format!("<{delivery}@"))
    );
    let expected_body = format!(
        "alice pushed 1 new changeset to acme/widgets (https://code.example.com/acme/widgets).\n\n\
         \x20 created branch main at {short}\n\n\
         Changeset {short}\n\
         Author: Alice Example <alice@example.com>\n\
         Date:   2026-11-27 10:00:00 (2026-11-27 09:00:00 UTC)\n\
         Branch: main\n\
         Link:   https://code.example.com/acme/widgets/commits/{id}\n\n\
         \x20   Fix the frobnicator\n\n\
         \x20   Longer text.\n\n\
         Files:\n\
         \x20 A src/lib.rs\n\n\
         -- \npushbroker {version} for https://code.example.com/acme/widgets\n",
        short = short(&id),
        version = env!("CARGO_PKG_VERSION"),
    );
    // The SMTP hop may add a final line break.
    assert_eq!(mail.body.trim_end(), expected_body.trim_end());
}

#[test]
fn several_changesets_get_a_summary_subject_and_every_changeset() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = smtp_env(&smtp);
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\nsubject_prefix = \"[W] \"\nreply_to = \"list@example.com\"\n",
    );
    let work = env.work("widgets");
    let a = env.commit(&work, &[("a", Some("1"))], "First change", 0);
    let b = env.commit(&work, &[("a", None), ("b", Some("2"))], "Second change", 1);
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let c = env.commit(&work, &[("c", Some("3"))], "Third change", 2);
    env.push(&work, &server, &["main", "feature"]);

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "one email per push");
    let mail = Mail::parse(&messages[0]);
    assert_eq!(
        mail.subject,
        "[W] 3 new changesets on main and feature by alice"
    );
    assert_eq!(mail.header("Reply-To"), "list@example.com");
    assert!(
        !mail.has_header("X-Git-Refname"),
        "two refs changed: no single-ref headers"
    );
    for (index, (id, message, branch)) in [
        (&a, "First change", "main"),
        (&b, "Second change", "main"),
        (&c, "Third change", "feature"),
    ]
    .into_iter()
    .enumerate()
    {
        let section = format!("[{}/3] Changeset {}\n", index + 1, short(id));
        let at = mail
            .body
            .find(&section)
            .unwrap_or_else(|| panic!("{section:?} in\n{}", mail.body));
        let rest = &mail.body[at..];
        assert!(rest.contains(&format!("Branch: {branch}\n")), "{rest}");
        assert!(rest.contains(&format!("    {message}\n")), "{rest}");
        assert!(rest.contains(&format!("/commits/{id}\n")), "{rest}");
    }
    assert!(mail.body.contains("  R a\n  A b\n"), "{}", mail.body);
}

#[test]
fn ref_only_pushes_send_a_short_note_unless_disabled() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = smtp_env(&smtp);
    let server = env.server(
        "acme",
        "widgets",
        &format!("{LIST}\n[[service]]\nbroker = \"email\"\nname = \"quiet\"\nto = \"q@example.com\"\nref_changes = false\n"),
    );
    let work = env.work("widgets");
    let id = env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    assert_eq!(smtp.messages().len(), 2);
    env.git(&work, &["tag", "v1.0"]).ok();
    let push = env.push(&work, &server, &["v1.0"]);
    let lines = push.remote_lines();
    assert_eq!(
        lines[1],
        "quiet (email): skipped: no new changesets and ref_changes = false"
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    let mail = Mail::parse(&messages[2]);
    assert_eq!(
        mail.subject,
        format!("[widgets] alice created tag v1.0 at {}", short(&id))
    );
    assert!(
        mail.body
            .starts_with("alice pushed no new changesets to acme/widgets"),
        "{}",
        mail.body
    );
    assert_eq!(mail.header("To"), "\"Dev List\" <dev@example.com>");
}

/// Writes a commit object with raw bytes and returns its id.
pub fn raw_commit(
    env: &TestEnv,
    work: &std::path::Path,
    author: &[u8],
    encoding: Option<&str>,
    message: &[u8],
) -> String {
    use std::io::Write;
    let tree = env.git_out(work, &["rev-parse", "HEAD^{tree}"]);
    let parent = env.git_out(work, &["rev-parse", "HEAD"]);
    let mut object = format!("tree {tree}\nparent {parent}\nauthor ").into_bytes();
    object.extend_from_slice(author);
    object.extend_from_slice(
        b" <rene@example.com> 1795770000 +0100\ncommitter C <c@example.com> 1795770000 +0100\n",
    );
    if let Some(encoding) = encoding {
        object.extend_from_slice(format!("encoding {encoding}\n").as_bytes());
    }
    object.extend_from_slice(b"\n");
    object.extend_from_slice(message);
    let mut child = env
        .command("git")
        .current_dir(work)
        .args(["hash-object", "-t", "commit", "-w", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("hash-object");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&object)
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success());
    let id = String::from_utf8(output.stdout)
        .expect("id")
        .trim()
        .to_string();
    env.git(work, &["update-ref", "HEAD", &id]).ok();
    id
}

#[test]
fn hostile_and_non_utf8_commit_data_cannot_break_or_inject_headers() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = smtp_env(&smtp);
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    raw_commit(
        &env,
        &work,
        b"Ren\xe9 Latin",
        None,
        b"Evil\r\nBcc: victim@evil.example\r\nX-Injected: yes\n\nbody \xff bytes\nBcc: also@evil.example\n",
    );
    env.push(&work, &server, &["main"]);
    raw_commit(
        &env,
        &work,
        b"Ren\xe9 Latin",
        Some("ISO-8859-1"),
        b"Caf\xe9 fix\n",
    );
    env.push(&work, &server, &["main"]);

    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    let evil = Mail::parse(&messages[1]);
    assert_eq!(evil.subject, "[widgets] Evil");
    assert!(
        !evil.has_header("Bcc") && !evil.has_header("X-Injected"),
        "{}",
        evil.raw
    );
    assert_eq!(
        evil.header("X-RcptTo"),
        "dev@example.com",
        "the only envelope recipient"
    );
    assert!(
        evil.body
            .contains("Author: Ren\u{fffd} Latin <rene@example.com>"),
        "{}",
        evil.body
    );
    assert!(
        evil.body
            .contains("    body \u{fffd} bytes\n    Bcc: also@evil.example\n"),
        "{}",
        evil.body
    );

    let latin = Mail::parse(&messages[2]);
    assert_eq!(latin.subject, "[widgets] Café fix");
    assert!(
        latin.body.contains("Author: René Latin <rene@example.com>"),
        "{}",
        latin.body
    );
}

#[test]
fn a_carriage_return_in_the_subject_line_stays_in_the_subject() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = smtp_env(&smtp);
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "base", 0);
    env.push(&work, &server, &["main"]);
    raw_commit(
        &env,
        &work,
        b"Mallory",
        None,
        b"Innocent\rBcc: victim@evil.example\rX-Evil: 1\n",
    );
    env.push(&work, &server, &["main"]);

    let mail = Mail::parse(&smtp.messages()[1]);
    assert_eq!(
        mail.subject,
        "[widgets] Innocent Bcc: victim@evil.example X-Evil: 1"
    );
    assert!(!mail.has_header("Bcc") && !mail.has_header("X-Evil"));
    assert_eq!(mail.header("X-RcptTo"), "dev@example.com");
}

#[test]
fn file_transport_is_the_default_and_diffs_are_capped() {
    let env = TestEnv::new();
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\ndiff = true\nmax_lines = 8\n",
    );
    let work = env.work("widgets");
    let lines: String = (1..=20).map(|n| format!("line {n}\n")).collect();
    env.commit(&work, &[("big.txt", Some(&lines))], "Add a big file", 0);
    let push = env.push(&work, &server, &["main"]);
    let outbox = server.join("pushbroker/outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(
        push.remote_lines(),
        vec![format!(
            "email-1 (email): delivered (written to {})",
            files[0].display()
        )]
    );
    let mail = Mail::parse(&std::fs::read(&files[0]).expect("eml"));
    assert_eq!(mail.subject, "[widgets] Add a big file");
    assert!(
        mail.body
            .contains("--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,20 @@\n+line 1\n+line 2\n"),
        "{}",
        mail.body
    );
    assert!(
        !mail.body.contains("+line 3\n"),
        "capped at 8 lines: {}",
        mail.body
    );
    assert!(
        mail.body.contains("[18 more diff lines not shown]"),
        "{}",
        mail.body
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&files[0])
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the outbox is private");
}

#[test]
fn the_sendmail_transport_hands_the_message_to_a_real_sendmail() {
    let scratch = tempfile::tempdir().expect("tmp");
    let smtp = SmtpServer::start(scratch.path());
    let env = TestEnv::new();
    // msmtp, a sendmail-compatible client, relays to the test's SMTP server.
    let rc = env.path("home/.msmtprc");
    std::fs::write(&rc, format!("defaults\nauth off\ntls off\naccount default\nhost 127.0.0.1\nport {}\nfrom code@example.com\n", smtp.port)).expect("msmtprc");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let msmtp = ["/usr/bin/msmtp", "/usr/local/bin/msmtp"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("msmtp is missing: run ./install.sh --deps");
    env.write_site(&format!("[email]\ntransport = \"sendmail\"\nsendmail = \"{msmtp}\"\nfrom = \"Code <code@example.com>\"\n"));
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "Through sendmail", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["dev-list (email): delivered (handed to sendmail)"]
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let mail = Mail::parse(&messages[0]);
    assert_eq!(mail.subject, "[widgets] Through sendmail");
    assert_eq!(mail.header("X-RcptTo"), "dev@example.com");

    env.write_site("[email]\ntransport = \"sendmail\"\nsendmail = \"/nonexistent/sendmail\"\n");
    env.commit(&work, &[("a", Some("2"))], "No sendmail", 1);
    let push = env.push(&work, &server, &["main"]);
    let line = &push.remote_lines()[0];
    assert!(line.starts_with("dev-list (email): failed after 3 attempts, spooled for `pushbroker redeliver`: sendmail: "), "{line}");
}
