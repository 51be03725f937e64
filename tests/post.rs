//! The `post` broker: formats, headers, signatures, auth, filters, failures.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::util::TestEnv;
use crate::util::http::Receiver;

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn bitbucket_format_is_one_form_field_with_the_payload() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nurl = \"{}\"\n",
            receiver.url("/hooks/push?x=1")
        ),
    );
    let work = env.work("widgets");
    let id = env.commit(&work, &[("a", Some("1"))], "Fix & improve = done + more", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["post-1 (post): delivered (HTTP 200)"]
    );

    let request = receiver.only();
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "/hooks/push?x=1");
    assert_eq!(
        request.header("Content-Type"),
        "application/x-www-form-urlencoded"
    );
    assert!(
        request.body_text().starts_with("payload=%7B"),
        "{}",
        request.body_text()
    );
    assert_eq!(
        request.header("User-Agent"),
        format!("pushbroker/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.header("X-Pushbroker-Event"), "push");
    let payload = request.json();
    assert_eq!(
        request.header("X-Pushbroker-Delivery"),
        payload["delivery"].as_str().expect("id")
    );
    assert_eq!(payload["commits"][0]["raw_node"], id.as_str());
    assert_eq!(
        payload["commits"][0]["message"],
        "Fix & improve = done + more\n"
    );
    assert!(
        payload.get("broker").is_none(),
        "the original POST service sent no broker field"
    );
    assert!(
        request.header_opt("X-Hub-Signature-256").is_none(),
        "unsigned without a secret"
    );
    assert!(request.header_opt("Authorization").is_none());
}

#[test]
fn a_secret_signs_the_exact_body_both_ways() {
    let mut env = TestEnv::new();
    env.set_env("CI_HOOK_SECRET", "s3cret-value");
    env.grant_env("CI_HOOK_SECRET");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"ci\"\nurl = \"{}\"\nformat = \"json\"\nsecret = \"secret:ci_hook_secret\"\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "signed", 0);
    let push = env.push(&work, &server, &["main"]);
    assert!(!push.stderr.contains("s3cret-value"));

    let request = receiver.only();
    assert_eq!(request.header("Content-Type"), "application/json");
    let expected = hmac_sha256(b"s3cret-value", &request.body);
    let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        request.header("X-Hub-Signature-256"),
        format!("sha256={hex}")
    );

    let id = request.header("webhook-id");
    assert_eq!(id, request.header("X-Pushbroker-Delivery"));
    let timestamp = request.header("webhook-timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    assert!(now.abs_diff(timestamp.parse::<u64>().expect("seconds")) < 60);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(b"s3cret-value", &signed));
    assert_eq!(
        request.header("webhook-signature"),
        format!("v1,{signature}")
    );
    // The signature breaks when one byte of the body changes.
    let mut tampered = request.body.clone();
    tampered[0] ^= 1;
    assert_ne!(hmac_sha256(b"s3cret-value", &tampered), expected);
}

#[test]
fn url_credentials_become_basic_auth_and_are_never_printed() {
    let env = TestEnv::new();
    let receiver = Receiver::with_statuses(&[403]);
    let url = format!("http://deploy:p%40ss@127.0.0.1:{}/hook", receiver.port);
    let server = env.server(
        "acme",
        "widgets",
        &format!("[[service]]\nbroker = \"post\"\nurl = \"{url}\"\n"),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "auth", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["post-1 (post): failed, spooled for `pushbroker redeliver`: HTTP 403"]
    );
    let request = receiver.only();
    let expected = base64::engine::general_purpose::STANDARD.encode("deploy:p@ss");
    assert_eq!(request.header("Authorization"), format!("Basic {expected}"));
    let dry = env.pushbroker_with_input(
        &server,
        &["hook", "--dry-run"],
        &format!(
            "0000000000000000000000000000000000000000 {} refs/heads/main\n",
            env.git_out(&work, &["rev-parse", "HEAD"])
        ),
        &[("GIT_DIR", ".")],
    );
    assert!(
        dry.stdout.contains("Authorization: Basic ***"),
        "{}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("p%40ss") && !dry.stdout.contains("p@ss"),
        "{}",
        dry.stdout
    );
}

#[test]
fn branch_filter_skips_services_and_says_so() {
    let env = TestEnv::new();
    let main_only = Receiver::start();
    let releases = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"main-ci\"\nurl = \"{}\"\nbranches = [\"main\"]\n\n\
             [[service]]\nbroker = \"post\"\nname = \"releases\"\nurl = \"{}\"\nbranches = [\"release/*\", \"{{hotfix,patch}}\"]\n",
            main_only.url("/"),
            releases.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec![
            "main-ci (post): delivered (HTTP 200)",
            "releases (post): skipped: no pushed ref matches its branches filter",
        ]
    );
    env.push(
        &work,
        &server,
        &["main:refs/heads/release/1.0", "main:refs/heads/patch"],
    );
    assert_eq!(main_only.requests().len(), 1);
    assert_eq!(releases.requests().len(), 1);
    env.push(&work, &server, &["main:refs/heads/release/2.0/extra"]);
    assert_eq!(releases.requests().len(), 1, "`*` does not cross `/`");
}

#[test]
fn an_unreachable_server_fails_one_line_and_the_push_succeeds() {
    let env = TestEnv::new();
    let port = crate::util::free_port();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"dead\"\nurl = \"http://127.0.0.1:{port}/\"\ntimeout = \"2s\"\n\n\
             [[service]]\nbroker = \"post\"\nname = \"alive\"\nurl = \"{}\"\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    let push = env.push(&work, &server, &["main"]);
    let lines = push.remote_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "dead (post): failed after 3 attempts, spooled for `pushbroker redeliver`: POST http://127.0.0.1:{port}/: "
        )),
        "{lines:?}"
    );
    assert!(lines[0].contains("refused"), "{lines:?}");
    assert_eq!(lines[1], "alive (post): delivered (HTTP 200)");
    assert!(!push.stderr.contains("panicked"));
    assert_eq!(
        env.git_out(&server, &["rev-parse", "main"]),
        env.git_out(&work, &["rev-parse", "HEAD"])
    );
}

#[test]
fn path_filters_with_negation_combine_with_branch_filters() {
    let env = TestEnv::new();
    let docs = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"docs\"\nurl = \"{}\"\nformat = \"json\"\n\
             paths = [\"docs/**\", \"!docs/drafts/**\"]\nbranches = [\"main\"]\n",
            docs.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("src/lib.rs", Some("1"))], "code only", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["docs (post): skipped: no new changeset touches its paths filter"]
    );
    env.commit(&work, &[("docs/drafts/idea.md", Some("1"))], "a draft", 1);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["docs (post): skipped: no new changeset touches its paths filter"]
    );
    env.commit(&work, &[("docs/guide.md", Some("1"))], "document it", 2);
    let push = env.push(&work, &server, &["main:refs/heads/feature"]);
    assert_eq!(
        push.remote_lines(),
        vec!["docs (post): skipped: no pushed ref matches its branches filter"],
        "right files, wrong branch: both filters must match"
    );
    let more = env.commit(
        &work,
        &[("docs/guide.md", Some("2")), ("src/lib.rs", Some("2"))],
        "document more",
        3,
    );
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["docs (post): delivered (HTTP 200)"]
    );
    let payload = docs.only().json();
    assert_eq!(payload["commits"][0]["raw_node"], more.as_str());
    env.git(&work, &["tag", "v1"]).ok();
    let push = env.push(&work, &server, &["v1"]);
    assert_eq!(
        push.remote_lines(),
        vec!["docs (post): skipped: no pushed ref matches its branches filter"],
        "a tag push has no new changesets"
    );
}

#[test]
fn a_template_renders_a_custom_body_over_the_payload() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"custom\"\nurl = \"{}\"\nformat = \"template\"\n\
             content_type = \"application/vnd.acme+json\"\n\
             template = '''{{\"text\": {{{{ (user ~ \" pushed \" ~ total_commits ~ \" to \" ~ repository.name) | tojson }}}}, \
             \"ids\": [{{% for c in commits %}}{{{{ c.node | tojson }}}}{{% if not loop.last %}},{{% endif %}}{{% endfor %}}], \
             \"service\": {{{{ service.name | tojson }}}}}}'''\n",
            receiver.url("/custom")
        ),
    );
    let work = env.work("widgets");
    let a = env.commit(&work, &[("a", Some("1"))], "one \"quoted\"", 0);
    let b = env.commit(&work, &[("a", Some("2"))], "two", 1);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["custom (post): delivered (HTTP 200)"]
    );
    let request = receiver.only();
    assert_eq!(request.header("Content-Type"), "application/vnd.acme+json");
    let body: serde_json::Value =
        serde_json::from_slice(&request.body).expect("the template made JSON");
    assert_eq!(
        body,
        serde_json::json!({"text": "alice pushed 2 to widgets", "ids": [&a[..12], &b[..12]], "service": "custom"})
    );
}

#[test]
fn bad_templates_are_check_errors_with_their_line() {
    let env = TestEnv::new();
    let server = env.server(
        "acme",
        "widgets",
        "[[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\nformat = \"template\"\ntemplate = \"\"\"\nline one\n{% for x in %}\n\"\"\"\n\n\
         [[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\nformat = \"template\"\ntemplate_file = \"../../etc/passwd\"\n",
    );
    let run = env.pushbroker(&server, &["check"]);
    assert_eq!(run.status, 1);
    let config = server.join("pushbroker.toml");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with(&format!(
            "error: {}:5:12: template error on its line 2: ",
            config.display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        lines[1].starts_with(&format!(
            "error: {}:14:17: template_file must be a relative path inside",
            config.display()
        )),
        "{}",
        run.stdout
    );
}
