//! `pushbroker brokers` and `pushbroker schema`: the services this server offers, each
//! broker's options with a block to paste, `enabled = false`, and the JSON Schema that
//! Taplo (the engine of Even Better TOML) checks a `pushbroker.toml` with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::TestEnv;
use crate::util::http::Receiver;

const BUILTIN: &[&str] = &["email", "post", "slack", "discord", "msteams", "matrix"];

/// The option names `brokers NAME` lists.
fn listed_options(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip_while(|line| *line != "options:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The `[[service]]` block `brokers NAME` prints.
fn block(text: &str) -> String {
    let at = text.find("[[service]]\n").expect("a [[service]] block");
    text[at..].to_string()
}

#[test]
fn brokers_lists_the_builtin_brokers_and_the_registered_ones() {
    let env = TestEnv::new();
    env.write_site(&format!(
        "[brokers.trello]\ncommand = \"/usr/local/lib/pushbroker/brokers/trello\"\nsha256 = \"{}\"\n",
        "ab".repeat(32)
    ));
    let run = env.pushbroker(&env.path(""), &["brokers"]).success();
    let site = env.site_path();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            "email    an email per push (or per changeset) to a list, through the site's mail transport".to_string(),
            "post     POSTs the push to a URL: Bitbucket form, JSON, GitHub or GitLab webhooks, or a template".into(),
            "slack    a message to a Slack incoming webhook (Mattermost and Rocket.Chat take it too)".into(),
            "discord  a message to a Discord webhook".into(),
            "msteams  a card to a Microsoft Teams incoming webhook or workflow".into(),
            "matrix   a message to a Matrix room, sent by a bot account".into(),
            format!(
                "trello   custom program /usr/local/lib/pushbroker/brokers/trello (registered in {})",
                site.display()
            ),
            String::new(),
            "`pushbroker brokers NAME` shows a broker's options and a [[service]] block to paste.".into(),
        ]
    );

    let custom = env
        .pushbroker(&env.path(""), &["brokers", "trello"])
        .success();
    assert!(
        custom
            .stdout
            .starts_with("trello: custom program /usr/local/lib/pushbroker/brokers/trello"),
        "{}",
        custom.stdout
    );
    assert!(
        custom
            .stdout
            .contains("\n[[service]]\nbroker = \"trello\"\n")
    );

    let unknown = env.pushbroker(&env.path(""), &["brokers", "emial"]);
    assert_eq!(unknown.status, 1);
    assert_eq!(
        unknown.stdout,
        "error: unknown broker `emial`: did you mean broker = \"email\"? (brokers: email, post, slack, discord, msteams, matrix; registered: trello)\n"
    );
}

#[test]
fn a_brokers_options_show_type_default_and_help_and_its_block_is_a_valid_config() {
    let mut env = TestEnv::new();
    env.grant_env("MATRIX_TOKEN");
    env.set_env("MATRIX_TOKEN", "syt_token");
    let email = env
        .pushbroker(&env.path(""), &["brokers", "email"])
        .success();
    let row = |key: &str| -> Vec<String> {
        let line = email
            .stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no row for {key}: {}", email.stdout));
        line.split("  ")
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("to"),
        [
            "to",
            "address or list of addresses",
            "required",
            "Recipients: one address or a list (`\"Dev <dev@example.com>\"`)."
        ]
    );
    assert_eq!(
        row("max_lines"),
        [
            "max_lines",
            "number",
            "default 1000",
            "Most patch lines in one email (default 1000); the rest is counted, not sent."
        ]
    );
    assert_eq!(
        row("enabled"),
        [
            "enabled",
            "true/false",
            "default true",
            "`false`: configured but off, never delivered (`check` and `brokers --repo` show it as off)."
        ]
    );
    assert_eq!(row("timeout")[1..3], ["duration", "optional"]);
    let post = env
        .pushbroker(&env.path(""), &["brokers", "post"])
        .success();
    // Columns are as wide as the longest name: compare the words, not the padding.
    let words = |line: &str| {
        line.split_whitespace()
            .take(4)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        post.stdout.lines().any(|line| words(line)
            == "format bitbucket|json|github|gitlab|template default \"bitbucket\""),
        "{}",
        post.stdout
    );

    // Each block, pasted as it is, is a config `check` accepts.
    for name in BUILTIN {
        let shown = env.pushbroker(&env.path(""), &["brokers", name]).success();
        let pasted = block(&shown.stdout);
        assert!(pasted.starts_with(&format!("[[service]]\nbroker = \"{name}\"\n")));
        let server = env.server("acme", name, &pasted);
        let check = env.pushbroker(&server, &["check"]).success();
        assert!(
            check
                .stdout
                .ends_with(&format!(": 1 service: {name}-1 ({name})\n")),
            "{name}: {}\n{pasted}",
            check.stdout
        );
    }
}

/// Every key the loader accepts for a broker (what its unknown-key error lists, from
/// the structs' deny_unknown_fields) is an option `brokers NAME` lists, and the other
/// way round; and config.example.toml documents each.
#[test]
fn every_option_the_loader_accepts_is_listed_and_documented() {
    let mut env = TestEnv::new();
    env.grant_env("MATRIX_TOKEN");
    env.set_env("MATRIX_TOKEN", "syt_token");
    let example = include_str!("../config.example.toml");
    for name in BUILTIN {
        let shown = env.pushbroker(&env.path(""), &["brokers", name]).success();
        let listed = listed_options(&shown.stdout);
        let config = format!("{}zz_not_an_option = 1\n", block(&shown.stdout));
        let server = env.server("acme", name, &config);
        let check = env.pushbroker(&server, &["check"]);
        assert_eq!(check.status, 1, "{}", check.stdout);
        let accepted: BTreeSet<String> = check
            .stdout
            .split_once("(valid keys: ")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(keys, _)| keys.split(", ").map(str::to_string).collect())
            .unwrap_or_else(|| panic!("{name}: {}", check.stdout));
        assert_eq!(listed, accepted, "{name}");
        for key in &listed {
            assert!(
                example.contains(&format!("# {key} = ")),
                "config.example.toml does not document {name}'s {key}"
            );
        }
    }
}

#[test]
fn a_service_with_enabled_false_is_never_delivered_and_shows_as_off() {
    let env = TestEnv::new();
    let on = Receiver::start();
    let off = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"{}\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"old-ci\"\nurl = \"{}\"\nenabled = false\n",
            on.url("/"),
            off.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(push.remote_lines(), vec!["ci (post): delivered (HTTP 200)"]);
    assert_eq!(on.requests().len(), 1);
    assert_eq!(off.requests().len(), 0);
    let test = env.pushbroker(&server, &["test"]).success();
    assert!(!test.stderr.contains("old-ci"), "{}", test.stderr);
    let only = env.pushbroker(&server, &["test", "--service", "old-ci"]);
    assert_eq!(only.status, 1);
    assert_eq!(
        only.stderr,
        format!(
            "pushbroker: error: the service \"old-ci\" is off (enabled = false in {})\n",
            server.join("pushbroker.toml").display()
        )
    );
    assert_eq!(off.requests().len(), 0);

    let check = env.pushbroker(&server, &["check"]).success();
    assert!(
        check
            .stdout
            .ends_with(": 2 services: ci (post), old-ci (post, off)\n"),
        "{}",
        check.stdout
    );
    let listed = env
        .pushbroker(
            &env.path(""),
            &["brokers", "--repo", server.to_str().expect("utf-8")],
        )
        .success();
    assert!(
        listed.stdout.ends_with(&format!(
            "\nservices in {}:\n  ci (post): on\n  old-ci (post): off\n",
            server.join("pushbroker.toml").display()
        )),
        "{}",
        listed.stdout
    );
}

#[test]
fn the_committed_schema_is_what_pushbroker_schema_prints() {
    let env = TestEnv::new();
    let run = env.pushbroker(&env.path(""), &["schema"]).success();
    assert_eq!(
        run.stdout,
        include_str!("../pushbroker.schema.json"),
        "pushbroker.schema.json is stale: run `pushbroker schema > pushbroker.schema.json`"
    );
}

/// Runs Taplo's own CLI over `file` with the committed schema.
fn taplo(file: &Path) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let taplo: PathBuf = root.join("tests/node/node_modules/.bin/taplo");
    assert!(
        taplo.exists(),
        "tests/node/node_modules/.bin/taplo is missing: run ./install.sh --deps"
    );
    let schema = format!("file://{}", root.join("pushbroker.schema.json").display());
    let output = Command::new(taplo)
        .args([
            "lint",
            "--no-auto-config",
            "--colors",
            "never",
            "--schema",
            &schema,
        ])
        .arg(file)
        .env("RUST_LOG", "error")
        .output()
        .expect("run taplo");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn taplo_accepts_good_configs_and_rejects_each_admin_mistake() {
    let env = TestEnv::new();
    let file = env.path("pushbroker.toml");
    std::fs::write(&file, include_str!("../config.example.toml")).expect("write");
    let (ok, text) = taplo(&file);
    assert!(ok, "config.example.toml: {text}");
    let good = "[repository]\nname = \"w\"\n\n[[service]]\nbroker = \"email\"\nto = [\"a@example.com\"]\n\
                branches = [\"main\"]\nenabled = false\n\n[[service]]\nbroker = \"post\"\n\
                url = \"https://ci.example.com/\"\nformat = \"github\"\ntimeout = \"5s\"\n\n\
                [[service]]\nbroker = \"trello\"\nboard = \"x\"\n";
    std::fs::write(&file, good).expect("write");
    let (ok, text) = taplo(&file);
    assert!(ok, "{text}");

    let email = "broker = \"email\"\nto = \"a@example.com\"\n";
    let mistakes = [
        (
            format!("[service]\n{email}"),
            "is not of type \"array\"",
            "write [[service]] (double brackets), not [service]",
        ),
        (
            format!("[[service]]\n{email}branches = \"main\"\n"),
            "\"main\" is not of type \"array\"",
            "branches must be a list, e.g. branches = [\"main\"] (not \"main\")",
        ),
        (
            format!("[[service]]\n{email}subjekt = \"x\"\n"),
            "Additional properties are not allowed ('subjekt' was unexpected)",
            "unknown key `subjekt`",
        ),
        (
            format!("[[service]]\n{email}max_lines = \"ten\"\n"),
            "\"ten\" is not of type \"integer\"",
            "max_lines must be a whole number of 0 or more",
        ),
    ];
    let server = env.server("acme", "widgets", "");
    for (config, taplo_says, check_says) in mistakes {
        std::fs::write(&file, &config).expect("write");
        let (ok, text) = taplo(&file);
        assert!(!ok, "taplo accepted:\n{config}");
        assert!(text.contains(taplo_says), "{config}\n{text}");
        std::fs::write(server.join("pushbroker.toml"), &config).expect("write");
        let check = env.pushbroker(&server, &["check"]);
        assert_eq!(check.status, 1);
        assert!(
            check.stdout.contains(check_says),
            "{config}\n{}",
            check.stdout
        );
    }
}
