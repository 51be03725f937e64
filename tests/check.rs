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

#[test]
fn check_reports_a_hook_that_will_not_run() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let hook = server.join("hooks/post-receive");
    let run = env.pushbroker(&server, &["check"]).success();
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_pushbroker")).expect("binary");
    let installed = format!(
        "hook: {}: installed, executable, runs this binary ({})",
        hook.display(),
        binary.display()
    );
    assert!(
        run.stdout.lines().any(|line| line == installed),
        "{}",
        run.stdout
    );

    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "error: hook: {0} is not executable: git ignores it, so no push is notified; chmod +x {0}",
            hook.display()
        )
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            format!(
                "failed: 1 error above will make pushes go undelivered; {}: 0 services",
                server.join("pushbroker.toml").display()
            )
            .as_str()
        )
    );

    std::fs::write(&hook, "#!/bin/sh\nexec /usr/bin/true\n").expect("write");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "error: hook: {} does not run pushbroker: no push is notified; run `pushbroker install {}`",
            hook.display(),
            server.display()
        )),
        "{}",
        run.stdout
    );

    std::fs::remove_file(&hook).expect("rm");
    env.pushbroker(&server, &["install", "."]).ok();
    let hooks = env.path("shared-hooks");
    env.git(
        &server,
        &["config", "core.hooksPath", hooks.to_str().expect("utf-8")],
    )
    .ok();
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "error: hook: git runs hooks from core.hooksPath = {}, where there is no post-receive",
            hooks.display()
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn check_reports_secrets_it_cannot_read_in_its_environment() {
    let mut env = TestEnv::new();
    env.grant_env("GH_SECRET");
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"https://ci.example.com/\"\nsecret = \"env:GH_SECRET\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"old\"\nurl = \"https://old.example.com/\"\nsecret = \"secret:gh_secret\"\nenabled = false\n",
    );
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "error: {}:5:10: service \"ci\": secret = \"env:GH_SECRET\" reads the environment variable GH_SECRET, which is not set here; the hook runs in the environment of the daemon that receives pushes (sshd, git daemon, the web server), not in yours: set it there too (e.g. Environment= in its systemd unit, SetEnv for Apache), or have the site grant a \"file:/path\" secret instead",
            server.join("pushbroker.toml").display()
        )
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.starts_with("error"))
            .count(),
        1,
        "the service that is off is not judged: {}",
        run.stdout
    );

    env.set_env("GH_SECRET", "s3cret-value");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout.starts_with("note: the env: secrets are set in this shell; the hook runs in the environment of the daemon that receives pushes"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("s3cret-value"));
}

#[test]
fn check_names_the_site_config_and_the_mail_transport() {
    let mut env = TestEnv::new();
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"email\"\nto = \"dev@example.com\"\n",
    );
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout.contains(&format!(
            "\nsite config: {}\nmail: transport = \"file\": emails are written to {}/*.eml, not sent (set [email] transport = \"smtp\" or \"sendmail\" in the site config to send them)\n",
            env.site_path().display(),
            server.join("pushbroker/outbox").display()
        )),
        "{}",
        run.stdout
    );

    env.write_site(
        "[email]\ntransport = \"smtp\"\nsmtp_url = \"smtp://bot@mail.example.com:587?tls=required\"\nsmtp_password = \"env:SMTP_PASSWORD\"\n",
    );
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!(
            "error: {}: service \"email-1\": reading the site's [email] smtp_password: the secret's environment variable SMTP_PASSWORD is not set\n\
             note: {}: smtp_password: SMTP_PASSWORD is not set here; the hook runs in the environment of the daemon",
            server.join("pushbroker.toml").display(),
            env.site_path().display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nmail: SMTP to smtp://mail.example.com (STARTTLS required), as bot\n"),
        "{}",
        run.stdout
    );
    env.set_env("SMTP_PASSWORD", "pw");
    env.pushbroker(&server, &["check"]).ok();

    env.set_env("PUSHBROKER_SITE", "");
    let run = env.pushbroker(&server, &["check"]).success();
    assert!(
        run.stdout.contains(
            "\nsite config: none (/etc/pushbroker/site.toml does not exist): every setting at its default, mail is written to .eml files\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn check_reports_missing_mercurial_hook_lines() {
    let env = TestEnv::new();
    let server = env.hg_server("acme", "widgets", "");
    let hgrc = server.join(".hg/hgrc");
    let run = env.pushbroker(&server, &["check", "."]).success();
    assert!(
        run.stdout.starts_with(&format!(
            "hook: {}: hook lines installed, runs this binary",
            hgrc.display()
        )),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&hgrc).expect("hgrc");
    let without: String = text
        .lines()
        .filter(|line| !line.starts_with("changegroup.pushbroker"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&hgrc, without).expect("write");
    let run = env.pushbroker(&server, &["check", "."]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!(
            "error: hook: {} has no changegroup.pushbroker line in [hooks]: some pushes are not notified; run `pushbroker install {}`",
            hgrc.display(),
            server.display()
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn config_mistakes_are_said_in_the_admins_words() {
    let env = TestEnv::new();
    let server = env.server("acme", "widgets", "");
    let config = server.join("pushbroker.toml");
    let cases = [
        (
            "[service]\nbroker = \"email\"\nto = \"a@example.com\"\n\n[service]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\n",
            ":5:2: [service] is written more than once: write each service as a [[service]] table (double brackets), one per service",
        ),
        (
            "[[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\nformat = \"jsn\"\n",
            ":4:10: format = \"jsn\" is not a choice: did you mean \"json\"? write one of bitbucket, json, github, gitlab, template",
        ),
        (
            "[[service]]\nbroker = \"email\"\nto = \"a@example.com\"\nbrances = [\"main\"]\n",
            ":4:1: unknown key `brances`: did you mean `branches`? (valid keys: to, ",
        ),
        (
            "[[service]]\nbroker = \"email\"\nto = \"a@example.com\"\nmax_lines = -1\n",
            ":4:13: max_lines must be a whole number of 0 or more, without quotes, e.g. max_lines = 100 (not -1)",
        ),
        (
            "[repository]\nprivate = \"yes\"\n",
            ":2:11: private must be true or false (without quotes) (not \"yes\")",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, text).expect("write");
        let run = env.pushbroker(&server, &["check"]);
        assert_eq!(run.status, 1);
        assert!(
            run.stdout
                .starts_with(&format!("error: {}{expected}", config.display())),
            "{text}\n{}",
            run.stdout
        );
    }
}
