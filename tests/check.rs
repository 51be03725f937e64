//! `pushbroker check` and config errors at push time.

use crate::util::TestEnv;

#[test]
fn check_reports_every_error_with_line_and_column() {
    let env = TestEnv::new();
    let server = env.server(
        "acme",
        "widgets",
        "[repository]\nname = \"widgets\"\n\n\
         [[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\nsubjekt_prefix = \"x\"\n\n\
         [[service]]\nbroker = \"emial\"\nto = \"dev@example.com\"\n\n\
         [[service]]\nbroker = \"post\"\nurl = \"ftp://example.com/\"\n\n\
         [[service]]\nbroker = \"post\"\nurl = \"https://example.com/\"\nbranches = [\"{a,b\"]\n\n\
         [[service]]\nbroker = \"post\"\nformat = \"json\"\n",
    );
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    let config = server.join("pushbroker.toml");
    let config = config.display();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "error: {config}:7:1: unknown key `subjekt_prefix`: did you mean `subject_prefix`? (valid keys: to, from, reply_to, subject_prefix, diff, max_lines, ref_changes, per_commit, max_message_bytes, max_body_bytes, max_refs, max_files, name, enabled, branches, paths, timeout, max_commits)"
            ),
            format!(
                "error: {config}:10:10: unknown broker `emial`: did you mean broker = \"email\"? (brokers: email, post, slack, discord, msteams, matrix)"
            ),
            format!(
                "error: {config}:15:7: the URL must start with http:// or https:// and name a host"
            ),
            format!(
                "error: {config}:20:12: invalid glob \"{{a,b\": unclosed alternate group; missing '}}' (maybe escape '{{' with '[{{]'?)"
            ),
            format!(
                "error: {config}:22:1: this [[service]] (broker = \"post\") needs url = …: add it"
            ),
        ]
    );
}

#[test]
fn check_accepts_a_valid_config_and_the_starter_config() {
    let mut env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    std::fs::write(
        server.join("pushbroker.toml"),
        include_str!("../config.example.toml"),
    )
    .expect("write");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout.ends_with(&format!(
            "\nok: {}: 0 services\n",
            server.join("pushbroker.toml").display()
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("error"), "{}", run.stdout);

    std::fs::write(
        server.join("pushbroker.toml"),
        "[[service]]\nbroker = \"email\"\nto = [\"a@example.com\", \"B <b@example.com>\"]\n\n[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"https://ci.example.com/\"\nsecret = \"env:X\"\n",
    )
    .expect("write");
    env.grant_env("X");
    env.set_env("X", "hook-secret");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout
            .ends_with(": 2 services: email-1 (email), ci (post)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_reports_site_config_errors_and_inline_secrets() {
    let env = TestEnv::new();
    env.write_site("[email]\ntransport = \"pigeon\"\n");
    let server = env.server("acme", "widgets", "");
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "error: {}:2:13: transport = \"pigeon\" is not a choice: write one of file, smtp, sendmail",
            env.site_path().display()
        )),
        "{}",
        run.stdout
    );

    env.write_site("");
    let config = server.join("pushbroker.toml");
    std::fs::write(
        &config,
        "[[service]]\nbroker = \"post\"\nurl = \"https://ci.example.com/\"\nsecret = \"hunter2\"\n",
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout.starts_with(&format!(
            "warning: {}:4:10: secret is written inline",
            config.display()
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("hunter2"));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}
