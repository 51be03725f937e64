//! The SMTP transport against a server that wants TLS and a password, as a real mail
//! relay does: STARTTLS and TLS from the first byte, the password from a secret, an
//! internal CA trusted through `smtp_ca_file`; and the failures: an untrusted
//! certificate, a wrong password.

use mail_parser::MessageParser;
use serde_json::json;

use crate::util::smtp::{Certificates, SmtpServer};
use crate::util::{TestEnv, text_under};

const LIST: &str =
    "[[service]]\nbroker = \"email\"\nname = \"dev-list\"\nto = [\"dev@example.com\"]\n";
const PASSWORD: &str = "Tr0ub4dor-and-3";

/// A TLS server (`mode`) wanting `pushbroker` / PASSWORD, and a test environment whose
/// site config reaches it through `url_form` (`{port}` filled in) plus `extra` keys.
fn relay(
    scratch: &std::path::Path,
    mode: &str,
    url_form: &str,
    extra: &str,
) -> (SmtpServer, TestEnv) {
    let certificates = Certificates::create(scratch);
    let smtp = SmtpServer::tls(scratch, mode, &certificates, "pushbroker", PASSWORD);
    let mut env = TestEnv::new();
    env.set_env("PB_SMTP_PASSWORD", PASSWORD);
    let url = url_form.replace("{port}", &smtp.port.to_string());
    env.write_site(&format!(
        "[email]\ntransport = \"smtp\"\nsmtp_url = \"{url}\"\nfrom = \"Code <code@example.com>\"\n\
         smtp_password = \"env:PB_SMTP_PASSWORD\"\n{}",
        extra.replace("{ca}", certificates.ca.to_str().expect("utf-8 path"))
    ));
    (smtp, env)
}

fn subject(message: &[u8]) -> String {
    let parsed = MessageParser::default().parse(message).expect("an email");
    parsed.subject().expect("a subject").to_string()
}

#[test]
fn starttls_and_smtps_deliver_encrypted_and_authenticated_with_a_password_from_a_secret() {
    for (mode, url) in [
        (
            "starttls",
            "smtp://pushbroker@127.0.0.1:{port}?tls=required",
        ),
        ("smtps", "smtps://pushbroker@127.0.0.1:{port}"),
    ] {
        let scratch = tempfile::tempdir().expect("tmp");
        let (smtp, env) = relay(scratch.path(), mode, url, "smtp_ca_file = \"{ca}\"\n");
        let server = env.server("acme", "widgets", LIST);
        let work = env.work("widgets");
        env.commit(&work, &[("a", Some("1"))], "Over TLS", 0);
        let push = env.push(&work, &server, &["main"]);
        let lines = push.remote_lines();
        assert_eq!(lines.len(), 1, "{mode}: {lines:?}");
        assert!(
            lines[0].starts_with("dev-list (email): delivered (SMTP 250"),
            "{mode}: {lines:?}"
        );
        let messages = smtp.messages();
        assert_eq!(messages.len(), 1, "{mode}");
        assert_eq!(subject(&messages[0]), "[widgets] Over TLS");
        assert_eq!(
            smtp.sessions(),
            vec![
                json!({"event": "auth", "tls": true, "mechanism": "PLAIN", "login": "pushbroker", "matched": true}),
                json!({"event": "message", "tls": true, "login": "pushbroker"}),
            ],
            "{mode}"
        );
        // The password is nowhere pushbroker writes.
        assert!(!text_under(&server).contains(PASSWORD), "{mode}");
        assert!(!push.stderr.contains(PASSWORD) && !push.stdout.contains(PASSWORD));
    }
}

#[test]
fn an_untrusted_certificate_fails_before_the_password_is_sent() {
    let scratch = tempfile::tempdir().expect("tmp");
    // No smtp_ca_file: the test CA is not among the public roots.
    let (smtp, env) = relay(
        scratch.path(),
        "starttls",
        "smtp://pushbroker@127.0.0.1:{port}?tls=required",
        "",
    );
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "Not to an impostor", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "dev-list (email): failed after 3 attempts, spooled for `pushbroker redeliver`: SMTP: "
        ) && lines[0].contains("certificate"),
        "{lines:?}"
    );
    assert!(smtp.messages().is_empty());
    assert_eq!(
        smtp.sessions(),
        Vec::<serde_json::Value>::new(),
        "no AUTH attempted"
    );
    assert!(!text_under(&server).contains(PASSWORD));
}

#[test]
fn a_wrong_password_fails_at_once_and_is_not_repeated_anywhere() {
    let scratch = tempfile::tempdir().expect("tmp");
    let (smtp, mut env) = relay(
        scratch.path(),
        "starttls",
        "smtp://pushbroker@127.0.0.1:{port}?tls=required",
        "smtp_ca_file = \"{ca}\"\n",
    );
    let wrong = "not-the-Password-42";
    env.set_env("PB_SMTP_PASSWORD", wrong);
    let server = env.server("acme", "widgets", LIST);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "Wrong password", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    // 535 is permanent: no retry; the pusher is told the server's answer, and the
    // message waits in the spool for the password to be fixed.
    assert_eq!(
        lines[0],
        "dev-list (email): failed, spooled for `pushbroker redeliver`: \
         SMTP: permanent error (535): 5.7.8 Authentication credentials invalid"
    );
    assert!(smtp.messages().is_empty());
    assert_eq!(
        smtp.sessions(),
        vec![
            json!({"event": "auth", "tls": true, "mechanism": "PLAIN", "login": "pushbroker", "matched": false})
        ]
    );
    assert!(!text_under(&server).contains(wrong));
    assert!(!push.stderr.contains(wrong) && !push.stdout.contains(wrong));
}
