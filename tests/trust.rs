//! The repository admin is not the server admin: a `pushbroker.toml` reaches no secret,
//! file or network address the site config did not grant, and no URL is shown with its
//! credentials. Each test is an attack a repository admin (who writes only that file, and
//! may push) could make.

use std::path::{Path, PathBuf};

use crate::util::http::Receiver;
use crate::util::{TestEnv, free_port, post_json, spool_files, text_under};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// The path grants match: the repository's directory, symlinks resolved.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).expect("canonical path")
}

/// The 1-based line and column of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("needle in the config");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |nl| nl + 1) + 1;
    (line, column)
}

#[test]
fn a_repository_config_reads_no_secret_of_the_server_unless_the_site_grants_it() {
    let mut env = TestEnv::new();
    // What the server has: a variable of the hook's environment and a file it can read.
    env.set_env("SMTP_PASSWORD", "smtp-hunter2");
    let secret_file = env.path("site-smtp.secret");
    std::fs::write(&secret_file, "file-hunter2\n").expect("secret file");
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"post\"\nname = \"gl\"\nurl = \"{url}\"\nformat = \"gitlab\"\n\
         secret = \"env:SMTP_PASSWORD\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"signed\"\nurl = \"{url}\"\nformat = \"json\"\n\
         secret = \"file:{file}\"\n\n\
         [[service]]\nbroker = \"matrix\"\nname = \"chat\"\nhomeserver = \"{url}\"\n\
         room = \"!r:example.com\"\ntoken = \"secret:matrix\"\n",
        url = receiver.url(""),
        file = secret_file.display(),
    );
    let server = env.server("acme", "widgets", &config);
    let repository = canonical(&server);
    let config_path = server.join("pushbroker.toml");

    // `check` names each reference at its value, and reads none of them.
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let (line, column) = position(&config, "\"env:SMTP_PASSWORD\"");
    assert_eq!(
        lines[0],
        format!(
            "error: {}:{line}:{column}: env:SMTP_PASSWORD is not granted to this repository \
             ({repo}): a repository config reads none of the server's variables or files; the \
             server admin grants a secret in the site config ([secrets.NAME] value = \
             \"env:SMTP_PASSWORD\", repositories = [\"{repo}\"]), then write \"secret:NAME\"",
            config_path.display(),
            repo = repository.display()
        )
    );
    let (line, column) = position(&config, "\"file:");
    assert!(
        lines[1].starts_with(&format!(
            "error: {}:{line}:{column}: file:{} is not granted to this repository",
            config_path.display(),
            secret_file.display()
        )),
        "{}",
        run.stdout
    );
    let (line, column) = position(&config, "\"secret:matrix\"");
    assert_eq!(
        lines[2],
        format!(
            "error: {}:{line}:{column}: secret:matrix is not granted to this repository ({repo}): \
             the server admin grants it in the site config with [secrets.matrix] value = \"…\", \
             repositories = [\"{repo}\"]",
            config_path.display(),
            repo = repository.display()
        )
    );
    assert_eq!(lines.len(), 3, "{}", run.stdout);

    // A push sends nothing and keeps the push for when the config is fixed.
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(receiver.requests().is_empty(), "nothing was sent");
    assert!(
        push.stderr.contains("env:SMTP_PASSWORD is not granted"),
        "{}",
        push.stderr
    );
    let everything = format!(
        "{}{}{}",
        push.stderr,
        run.stdout,
        text_under(&server.join("pushbroker"))
    );
    assert!(!everything.contains("hunter2"), "{everything}");
    assert_eq!(spool_files(&server).len(), 1);

    // A grant to other repositories is no grant to this one.
    env.write_site(&format!(
        "[secrets.gitlab]\nvalue = \"env:SMTP_PASSWORD\"\nrepositories = [\"{}/srv/other/*.git\"]\n",
        canonical(env.dir.path()).display()
    ));
    let run = env.pushbroker(&server, &["check"]);
    assert!(
        run.stdout.contains("env:SMTP_PASSWORD is not granted"),
        "{}",
        run.stdout
    );

    // Granted to this owner's repositories, by name and by value, the push is delivered
    // with the secrets the site chose, and redeliver sends the kept push.
    env.set_env("MATRIX_TOKEN", "syt-granted");
    let acme = format!("{}/srv/acme/*.git", canonical(env.dir.path()).display());
    env.write_site(&format!(
        "[secrets.gitlab]\nvalue = \"env:SMTP_PASSWORD\"\nrepositories = [\"{acme}\"]\n\
         [secrets.signing]\nvalue = \"file:{}\"\nrepositories = [\"{acme}\"]\n\
         [secrets.matrix]\nvalue = \"env:MATRIX_TOKEN\"\nrepositories = [\"**\"]\n",
        secret_file.display()
    ));
    env.pushbroker(&server, &["check"]).ok();
    let redeliver = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(redeliver.status, 0, "{}", redeliver.stdout);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "one request per service");
    let gitlab = requests
        .iter()
        .find(|request| request.header_opt("X-Gitlab-Event").is_some())
        .expect("the gitlab request");
    assert_eq!(gitlab.header("X-Gitlab-Token"), "smtp-hunter2");
    assert_eq!(gitlab.json()["checkout_sha"], head.as_str());
    let matrix = requests
        .iter()
        .find(|request| request.method == "PUT")
        .expect("the matrix request");
    assert_eq!(matrix.header("Authorization"), "Bearer syt-granted");
    let signed = requests
        .iter()
        .find(|request| request.method == "POST" && request.header_opt("X-Gitlab-Event").is_none())
        .expect("the signed json request");
    assert!(signed.header("webhook-signature").starts_with("v1,"));
    assert!(spool_files(&server).is_empty());
}

#[test]
fn the_default_network_policy_refuses_loopback_and_unspecified_addresses() {
    let env = TestEnv::new();
    // An empty [network] table: the default policy, no exception.
    env.write_site("[network]\n");
    let receiver = Receiver::start();
    let port = receiver
        .url("")
        .rsplit(':')
        .next()
        .expect("port")
        .to_string();
    let targets = [
        (
            "docker",
            format!("http://127.0.0.1:{port}/containers/create"),
        ),
        ("zeros", format!("http://0.0.0.0:{port}/")),
        ("zero", format!("http://0:{port}/")),
        ("unspecified6", format!("http://[::]:{port}/")),
        ("loopback6", format!("http://[::1]:{port}/")),
        ("mapped", format!("http://[::ffff:127.0.0.1]:{port}/")),
        ("decimal", format!("http://2130706433:{port}/")),
    ];
    // A Docker-API-shaped request, body and type of the repository admin's choosing.
    let mut config = String::from(
        "[[service]]\nbroker = \"post\"\nname = \"docker\"\nformat = \"template\"\n\
         content_type = \"application/json\"\ntemplate = '{\"Image\": \"alpine\", \"Cmd\": [\"id\"]}'\n",
    );
    config.push_str(&format!("url = \"{}\"\n", targets[0].1));
    for (name, url) in &targets[1..] {
        config.push_str(&post_json(name, url, ""));
    }
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    let refused = "is not a public address: the site's [network] policy denies it (the \
                   server admin can add it to [network] allow)";
    let expected = [
        "127.0.0.1",
        "0.0.0.0",
        "0.0.0.0",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "127.0.0.1",
    ];
    for ((name, _), address) in targets.iter().zip(expected) {
        let line = lines
            .iter()
            .find(|line| line.starts_with(&format!("{name} (post): failed")))
            .unwrap_or_else(|| panic!("no line for {name}: {lines:?}"));
        let (_, why) = line
            .split_once(": refused before connecting: ")
            .unwrap_or_else(|| panic!("not refused: {line}"));
        assert!(why.ends_with(refused), "{line}");
        assert!(
            why.starts_with(&format!("{address} ")) || why.contains(&format!(" {address}, ")),
            "{line}"
        );
    }
    assert!(receiver.requests().is_empty(), "nothing reached loopback");

    // With loopback opened by the site, the unspecified addresses stay refused.
    env.write_site("[network]\nallow = [\"127.0.0.0/8\"]\n");
    let redeliver = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(
        redeliver.status, 1,
        "four stay spooled: {}",
        redeliver.stdout
    );
    let requests = receiver.requests();
    let paths: Vec<&str> = requests
        .iter()
        .map(|request| request.url.as_str())
        .collect();
    assert_eq!(
        paths.len(),
        3,
        "127.0.0.1, its mapped and decimal forms: {paths:?}"
    );
    assert!(paths.contains(&"/containers/create"));
    assert_eq!(
        spool_files(&server).len(),
        4,
        "0.0.0.0, 0, [::] and [::1] stay refused"
    );
}

#[test]
fn template_files_are_read_only_from_the_template_directory() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let url = receiver.url("/t");
    let template = |name: &str, file: &str| {
        format!(
            "[[service]]\nbroker = \"post\"\nname = \"{name}\"\nurl = \"{url}\"\nformat = \"template\"\n\
             content_type = \"text/plain\"\ntemplate_file = \"{file}\"\n"
        )
    };
    let config = [
        template("good", "push.txt.j2"),
        template("passwd", "passwd.j2"),
        template("gitconfig", "config"),
        template("hop", "hop.j2"),
        template("hard", "hard.j2"),
    ]
    .concat();
    let server = env.server("acme", "widgets", &config);
    // The repository's config holds a mirror URL with a token, as on many servers.
    env.git(
        &server,
        &[
            "config",
            "remote.mirror.url",
            "https://x:mirror-t0ken@example.com/w.git",
        ],
    )
    .ok();
    let templates = server.join("pushbroker/templates");
    std::fs::create_dir_all(&templates).expect("templates");
    std::fs::write(
        templates.join("push.txt.j2"),
        "{{ user }} pushed {{ total_commits }}",
    )
    .expect("template");
    std::os::unix::fs::symlink("/etc/passwd", templates.join("passwd.j2")).expect("symlink");
    std::os::unix::fs::symlink("../../config", templates.join("hop.j2")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", server.join("passwd.j2")).expect("symlink");
    std::fs::hard_link(server.join("config"), templates.join("hard.j2")).expect("hard link");

    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    let config_path = server.join("pushbroker.toml");
    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        vec![
            format!(
                "error: {}: service \"passwd\": template_file \"passwd.j2\" leads outside {} (symlinks resolved): not read",
                config_path.display(),
                templates.display()
            ),
            format!(
                "error: {}: service \"gitconfig\": reading the template {}: No such file or directory (os error 2)",
                config_path.display(),
                templates.join("config").display()
            ),
            format!(
                "error: {}: service \"hop\": template_file \"hop.j2\" leads outside {} (symlinks resolved): not read",
                config_path.display(),
                templates.display()
            ),
            format!(
                "error: {}: service \"hard\": the template {} has other names (hard links): not read; copy the file instead",
                config_path.display(),
                templates.join("hard.j2").display()
            ),
        ]
    );

    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "only the template inside was sent");
    assert_eq!(requests[0].body_text(), "alice pushed 1");
    assert_eq!(requests[0].header("Content-Type"), "text/plain");
    let everything = text_under(&server.join("pushbroker/spool"));
    assert!(
        !everything.contains("root:"),
        "no /etc/passwd line anywhere"
    );
    assert!(!everything.contains("mirror-t0ken"));
}

#[test]
fn a_url_is_shown_with_its_credentials_masked_and_may_be_a_secret() {
    let mut env = TestEnv::new();
    let port = free_port();
    let dead =
        format!("http://bot:pw-s3cret@127.0.0.1:{port}/hook?token=tok-s3cret&x=1#frag-s3cret");
    let receiver = Receiver::start();
    // A webhook whose path is its credential, kept in the site's environment.
    env.set_env("CI_URL", &receiver.url("/hooks/path-s3cret"));
    env.grant_env("CI_URL");
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "{}{}",
            post_json("dead", &dead, ""),
            post_json("hidden", "secret:ci_url", "")
        ),
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let shown = format!("POST http://***:***@127.0.0.1:{port}/hook?token=***&x=***#***: ");
    assert!(
        push.remote_lines()[0].starts_with("dead (post): failed after 3 attempts, spooled"),
        "{}",
        push.stderr
    );
    assert!(push.remote_lines()[0].contains(&shown), "{}", push.stderr);
    assert_eq!(
        push.remote_lines()[1],
        "hidden (post): delivered (HTTP 200)"
    );
    assert_eq!(receiver.only().url, "/hooks/path-s3cret");

    let dry_run = env
        .pushbroker_with_input(
            &server,
            &["hook", "--dry-run"],
            &format!("{ZERO} {head} refs/heads/main\n"),
            &[("GIT_DIR", ".")],
        )
        .success();
    assert!(
        dry_run.stdout.contains(&format!(
            "POST http://***:***@127.0.0.1:{port}/hook?token=***&x=***#***\n"
        )),
        "{}",
        dry_run.stdout
    );
    let host_only = receiver.url("/…");
    assert!(
        dry_run.stdout.contains(&format!("POST {host_only}\n")),
        "{}",
        dry_run.stdout
    );
    let log = env.pushbroker(&server, &["log"]).success();
    let failed = env.pushbroker(&server, &["log", "--failed"]).success();
    let redeliver = env.pushbroker(&server, &["redeliver"]);
    let everything = format!(
        "{}{}{}{}{}{}",
        push.stderr,
        dry_run.stdout,
        log.stdout,
        failed.stdout,
        redeliver.stdout,
        text_under(&server.join("pushbroker"))
    );
    assert!(everything.contains("token=***"), "{everything}");
    assert!(!everything.contains("s3cret"), "{everything}");
}

#[test]
fn a_template_cannot_exhaust_the_hooks_memory() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    // Each step is cheap in fuel; together they ask for a gigabyte.
    let greedy = "{% set a = 'x' * 50000000 %}{% set b = [a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a]|join %}{{ b|length }}";
    let config = format!(
        "[[service]]\nbroker = \"post\"\nname = \"greedy\"\nurl = \"{url}\"\nformat = \"template\"\n\
         template = \"{greedy}\"\n\n\
         [[service]]\nbroker = \"post\"\nname = \"small\"\nurl = \"{url}\"\nformat = \"template\"\n\
         content_type = \"text/plain\"\ntemplate = \"{{{{ user }}}}\"\n",
        url = receiver.url("/t")
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "greedy (post): failed, spooled for `pushbroker redeliver`: rendering the template: \
             the template needed more than 512 MiB of memory or 10 s of CPU to render: not sent"
                .to_string(),
            "small (post): delivered (HTTP 200)".to_string(),
        ]
    );
    assert_eq!(receiver.only().body_text(), "alice");
    assert_eq!(spool_files(&server).len(), 1);
}

#[test]
fn a_secret_granted_for_some_hosts_goes_to_no_other() {
    let mut env = TestEnv::new();
    let receiver = Receiver::start();
    // A chat webhook whose path is its credential, granted for its own host only.
    env.set_env("CHAT_URL", &receiver.url("/services/T0/B0/PATHSECRET"));
    env.write_site(
        "[secrets.chat]\nvalue = \"env:CHAT_URL\"\nrepositories = [\"**\"]\nhosts = [\"127.0.0.1\"]\n",
    );
    let port = receiver
        .url("")
        .rsplit(':')
        .next()
        .expect("port")
        .to_string();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"slack\"\nname = \"chat\"\nurl = \"secret:chat\"\n\n\
             [[service]]\nbroker = \"matrix\"\nname = \"steal\"\nhomeserver = \"http://localhost:{port}\"\n\
             room = \"!r:example.com\"\ntoken = \"secret:chat\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"forge\"\nurl = \"http://localhost:{port}/\"\n\
             format = \"gitlab\"\nsecret = \"secret:chat\"\n"
        ),
    );
    let check = env.pushbroker(&server, &["check"]);
    assert_eq!(check.status, 1);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let expected = "secret:chat may be sent only to 127.0.0.1 (the site's [secrets.chat] hosts), not to localhost";
    for (name, broker) in [("steal", "matrix"), ("forge", "post")] {
        let line = push
            .remote_lines()
            .into_iter()
            .find(|line| line.starts_with(&format!("{name} ({broker})")))
            .unwrap_or_else(|| panic!("no line for {name}: {}", push.stderr));
        assert!(line.ends_with(expected), "{line}");
        assert!(
            check
                .stdout
                .contains(&format!("service {name:?}: {expected}")),
            "{}",
            check.stdout
        );
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "only the chat message went out");
    assert_eq!(requests[0].url, "/services/T0/B0/PATHSECRET");
    assert!(
        !format!("{}{}", push.stderr, text_under(&server.join("pushbroker")))
            .contains("PATHSECRET")
    );
}
