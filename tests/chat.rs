//! Chat brokers: each request's URL, headers and JSON against the service's documented
//! format, for 1 and for 50 changesets.

use serde_json::Value;

use crate::util::http::{Received, Receiver};
use crate::util::{TestEnv, short};

/// Pushes 1 changeset (with a hostile title), then 50; returns both requests, the ids
/// of the first and of the last changeset.
fn one_then_fifty(
    env: &TestEnv,
    config: &str,
    receiver: &Receiver,
) -> (Received, Received, String, String) {
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let server = env.server("acme", "widgets", config);
    let work = env.work("widgets");
    let first = env.commit(
        &work,
        &[("a", Some("0"))],
        "Fix <b>bold</b> & *stars* @everyone",
        0,
    );
    let push = env.push(&work, &server, &["main"]);
    assert!(
        push.remote_lines()[0].ends_with(": delivered (HTTP 200)"),
        "{}",
        push.stderr
    );
    let mut last = String::new();
    for n in 1..=50 {
        last = env.commit(
            &work,
            &[("a", Some(&n.to_string()))],
            &format!("change {n}"),
            n,
        );
    }
    env.push(&work, &server, &["main"]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    (requests[0].clone(), requests[1].clone(), first, last)
}

#[test]
fn slack_posts_mrkdwn_text_with_links_and_escapes() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"slack\"\nurl = \"{}\"\nchannel = \"#dev\"\n",
        receiver.url("/services/T000/B000/XXXX")
    );
    let (one, fifty, first, last) = one_then_fifty(&env, &config, &receiver);
    assert_eq!(
        (one.method.as_str(), one.url.as_str()),
        ("POST", "/services/T000/B000/XXXX")
    );
    assert_eq!(one.header("Content-Type"), "application/json");
    let message = one.json();
    assert_eq!(message["channel"], "#dev");
    assert_eq!(
        message["text"],
        format!(
            "<https://code.example.com/acme/widgets|acme/widgets>: alice pushed 1 changeset to acme/widgets (main)\n\
             • <https://code.example.com/acme/widgets/commits/{first}|`{}`> Fix &lt;b&gt;bold&lt;/b&gt; &amp; *stars* @everyone — Alice Example",
            short(&first)
        )
    );
    let text = fifty.json()["text"].as_str().expect("text").to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "headline, 10 changesets, the rest: {text}");
    assert_eq!(
        lines[0],
        "<https://code.example.com/acme/widgets|acme/widgets>: alice pushed 50 changesets to acme/widgets (main)"
    );
    assert!(
        lines[10].contains(&short(&last)) && lines[10].contains("change 50"),
        "{text}"
    );
    assert_eq!(lines[11], "and 40 more changesets");
}

#[test]
fn discord_posts_one_embed_without_pinging_anyone() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"discord\"\nurl = \"{}\"\nusername = \"pushbroker\"\n",
        receiver.url("/api/webhooks/1/abc")
    );
    let (one, fifty, first, _) = one_then_fifty(&env, &config, &receiver);
    assert_eq!(
        (one.method.as_str(), one.url.as_str()),
        ("POST", "/api/webhooks/1/abc")
    );
    let message = one.json();
    assert_eq!(message["username"], "pushbroker");
    assert_eq!(
        message["allowed_mentions"],
        serde_json::json!({"parse": []})
    );
    let embed = &message["embeds"][0];
    assert_eq!(
        embed["title"],
        "alice pushed 1 changeset to acme/widgets (main)"
    );
    assert_eq!(embed["url"], "https://code.example.com/acme/widgets");
    assert_eq!(
        embed["description"],
        format!(
            "[`{}`](https://code.example.com/acme/widgets/commits/{first}) Fix <b\\>bold</b\\> & \\*stars\\* \\@everyone — Alice Example",
            short(&first)
        )
    );
    assert!(
        embed["timestamp"]
            .as_str()
            .expect("timestamp")
            .ends_with('Z')
    );
    let description = fifty.json()["embeds"][0]["description"]
        .as_str()
        .expect("description")
        .to_string();
    assert_eq!(description.lines().count(), 11);
    assert!(description.ends_with("\nand 40 more changesets"));
    assert!(description.chars().count() <= 4096);
}

#[test]
fn teams_posts_an_adaptive_card() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"msteams\"\nurl = \"{}\"\n",
        receiver.url("/workflows/123")
    );
    let (one, fifty, first, _) = one_then_fifty(&env, &config, &receiver);
    let message = one.json();
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(
        (card["type"].as_str(), card["version"].as_str()),
        (Some("AdaptiveCard"), Some("1.4"))
    );
    assert_eq!(
        card["body"][0]["text"], "alice pushed 1 changeset to acme\\/widgets \\(main\\)",
        "every ASCII punctuation character escaped: Teams shows it literally"
    );
    assert_eq!(
        card["body"][1]["text"],
        format!(
            "[{}](https://code.example.com/acme/widgets/commits/{first}) Fix \\<b\\>bold\\<\\/b\\> \\& \\*stars\\* \\@everyone — Alice Example",
            short(&first)
        )
    );
    assert_eq!(
        card["actions"][0]["url"],
        "https://code.example.com/acme/widgets"
    );
    let body = fifty.json()["attachments"][0]["content"]["body"]
        .as_array()
        .expect("body")
        .clone();
    assert_eq!(body.len(), 12);
    assert_eq!(body[11]["text"], "and 40 more changesets");
}

#[test]
fn matrix_puts_a_notice_with_the_delivery_id_as_transaction() {
    let mut env = TestEnv::new();
    env.set_env("MATRIX_TOKEN", "syt_secret_token");
    env.grant_env("MATRIX_TOKEN");
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"matrix\"\nhomeserver = \"{}\"\nroom = \"!room:example.com\"\ntoken = \"secret:matrix_token\"\n",
        receiver.url("")
    );
    let (one, fifty, first, _) = one_then_fifty(&env, &config, &receiver);
    assert_eq!(one.method, "PUT");
    let log = std::fs::read_to_string(env.path("srv/acme/widgets.git/pushbroker/deliveries.jsonl"))
        .expect("log");
    let delivery: Value = serde_json::from_str(log.lines().next().expect("line")).expect("json");
    assert_eq!(
        one.url,
        format!(
            "/_matrix/client/v3/rooms/%21room%3Aexample%2Ecom/send/m.room.message/{}",
            delivery["delivery"].as_str().expect("id")
        )
    );
    assert_eq!(one.header("Authorization"), "Bearer syt_secret_token");
    let message = one.json();
    assert_eq!(message["msgtype"], "m.notice");
    assert_eq!(message["format"], "org.matrix.custom.html");
    assert_eq!(
        message["body"],
        format!(
            "alice pushed 1 changeset to acme/widgets (main)\n{} Fix <b>bold</b> & *stars* @everyone — Alice Example https://code.example.com/acme/widgets/commits/{first}",
            short(&first)
        )
    );
    assert!(
        message["formatted_body"]
            .as_str()
            .expect("html")
            .contains("Fix &lt;b&gt;bold&lt;/b&gt; &amp; *stars*")
    );
    let body = fifty.json()["body"].as_str().expect("body").to_string();
    assert_eq!(body.lines().count(), 12);
    assert!(!log.contains("syt_secret_token"));
}
