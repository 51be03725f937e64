//! Chat messages as their consumers take them: Teams cards rendered by Microsoft's
//! `adaptivecards` SDK (3.x) in jsdom with markdown-it, as Teams renders them, showing
//! exactly the commit text git has; and every chat message within its service's limits
//! for worst-case input (200 changesets, 500-character `&`-, markup- and emoji-heavy
//! subjects, long names).

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::util::TestEnv;
use crate::util::http::{Received, Receiver};
use crate::util::teams::render_teams;

#[test]
fn teams_cards_show_exactly_the_commit_text_in_microsofts_sdk() {
    let env = TestEnv::new();
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"msteams\"\nurl = \"{}\"\n",
        receiver.url("/teams")
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    let titles = [
        "Release on {{DATE(2017-02-14T06:08:39Z, SHORT)}} at {{TIME(2017-02-14T06:08:39Z)}}",
        "Tom &amp; Jerry &lt;3 &#x41; & < > \" '",
        "[a link](https://evil.example) **bold** _it_ ~~gone~~ <script>alert(1)</script> <at>bob</at>",
        "# not a heading, 1. not a list, `code`, \\back\\slash, > no quote, | table |",
        "Emoji 🎉 and ünïcödé — fine {braces} %s $HOME",
    ];
    for (n, title) in titles.iter().enumerate() {
        env.commit(&work, &[("a", Some(&n.to_string()))], title, n as u32);
    }
    env.push(&work, &server, &["main"]);
    env.git(&work, &["tag", "-a", "-m", "v1", "v1"]).ok();
    env.push(&work, &server, &["v1"]);
    let messages: Vec<Value> = receiver.requests().iter().map(Received::json).collect();
    assert_eq!(messages.len(), 2);
    let rendered = render_teams(&env, &messages);
    for result in &rendered {
        assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    }
    let texts: Vec<&str> = rendered[0]["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|text| text.as_str().expect("text"))
        .collect();
    let log = env.git_out(
        &work,
        &[
            "log",
            "--reverse",
            "--format=%h%x00%s%x00%an",
            "--abbrev=12",
            "main",
        ],
    );
    let mut expected = vec!["alice pushed 5 changesets to acme/widgets (main)".to_string()];
    expected.extend(log.lines().map(|line| {
        let fields: Vec<&str> = line.split('\0').collect();
        format!("{} {} — {}", fields[0], fields[1], fields[2])
    }));
    assert_eq!(texts, expected, "what a Teams reader sees is git's text");
    let links = rendered[0]["links"].as_array().expect("links");
    assert_eq!(
        links.len(),
        5,
        "one link per changeset, none from the titles: {links:?}"
    );
    assert!(links.iter().all(|link| {
        link.as_str()
            .is_some_and(|l| l.starts_with("https://code.example.com/acme/widgets/commits/"))
    }));
    assert_eq!(
        rendered[1]["texts"],
        serde_json::json!(["alice created tag v1 in acme/widgets"])
    );
}

/// Makes `count` commits on `main` of `work` with git fast-import: each its own
/// 500-character subject, and an author name of 200 characters.
fn worst_case_history(env: &TestEnv, work: &Path, count: usize) {
    let piece = "&<>\"'\\*_~`|[](){}#@ 🎉 ü **x** <at>y</at> &amp; {{DATE(2017-02-14T06:08:39Z)}} ";
    let author = "Ünïcödé 🎉 &*_\\ ".repeat(12);
    let mut stream = String::new();
    for n in 0..count {
        // What each markup expands most: `&` (Slack, Matrix), `\` and `"` (Teams in
        // JSON), emoji (four bytes), and a mix of every markup character.
        let filler = match n % 4 {
            0 => "&".repeat(500),
            1 => "\\\"".repeat(250),
            2 => "🎉".repeat(500),
            _ => piece.repeat(20),
        };
        let subject: String = format!("{n} {filler}").chars().take(500).collect();
        let message = format!("{subject}\n\nbody\n");
        let content = n.to_string();
        stream.push_str(&format!(
            "commit refs/heads/main\nauthor {} <a@example.com> {} +0530\ncommitter C <c@example.com> {} +0000\ndata {}\n{message}M 644 inline file{n}.txt\ndata {}\n{content}\n",
            author.trim(),
            1_764_234_000 + n,
            1_764_234_000 + n,
            message.len(),
            content.len()
        ));
    }
    let mut child = env
        .command("git")
        .current_dir(work)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
    env.git(work, &["checkout", "--quiet", "-f", "main"]).ok();
}

#[test]
fn every_chat_message_stays_within_its_services_limits_for_worst_case_input() {
    let mut env = TestEnv::new();
    env.set_env("USER", &"pusher🎉&<".repeat(30));
    env.write_site("canon_url = \"https://code.example.com\"\n");
    let receiver = Receiver::start();
    let long_name = "Wïdgets & <Gadgets> *of* _every_ kind 🎉 ".repeat(10);
    let config = format!(
        "[repository]\nname = \"{long_name}\"\nowner = \"{long_name}\"\n\n\
         [[service]]\nbroker = \"slack\"\nurl = \"{}\"\n\n\
         [[service]]\nbroker = \"discord\"\nurl = \"{}\"\n\n\
         [[service]]\nbroker = \"msteams\"\nurl = \"{}\"\n\n\
         [[service]]\nbroker = \"matrix\"\nhomeserver = \"{}\"\nroom = \"!room:example.com\"\ntoken = \"syt_token\"\n",
        receiver.url("/slack"),
        receiver.url("/discord"),
        receiver.url("/teams"),
        receiver.url("/matrix"),
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    worst_case_history(&env, &work, 200);
    // Branch names are capped too: push under a 200-character one.
    let branch = format!("main:refs/heads/{}", "long-branch-ü".repeat(15));
    env.push(&work, &server, &[&branch]);
    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        4,
        "{:?}",
        requests.iter().map(|r| &r.url).collect::<Vec<_>>()
    );
    let by_path = |prefix: &str| {
        requests
            .iter()
            .find(|request| request.url.starts_with(prefix))
            .unwrap_or_else(|| panic!("no request to {prefix}"))
    };

    let slack = by_path("/slack").json();
    let text = slack["text"].as_str().expect("text");
    let chars = text.chars().count();
    assert!(
        chars <= 20_000,
        "Slack text {chars} characters (bound 20,000; Slack's 40,000)"
    );

    let discord = by_path("/discord").json();
    let embed = &discord["embeds"][0];
    let title = embed["title"].as_str().expect("title").chars().count();
    let description = embed["description"]
        .as_str()
        .expect("description")
        .chars()
        .count();
    assert!(title <= 256, "Discord title {title} characters");
    assert!(
        description <= 4_096,
        "Discord description {description} characters"
    );
    assert!(
        title + description <= 6_000,
        "Discord embed {} characters",
        title + description
    );

    let teams = by_path("/teams");
    assert!(
        teams.body.len() <= 20 * 1024,
        "Teams message {} bytes (bound 20 KB; Teams' ~28 KB)",
        teams.body.len()
    );
    let rendered = render_teams(&env, &[teams.json()]);
    assert_eq!(
        rendered[0]["errors"],
        serde_json::json!([]),
        "{}",
        rendered[0]
    );
    let texts = rendered[0]["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 12, "headline, 10 changesets, the rest");
    assert_eq!(texts[11], "and 190 more changesets");

    let matrix = by_path("/matrix");
    assert!(
        matrix.body.len() <= 40 * 1024,
        "Matrix event {} bytes (bound 40 KB; Matrix's 65,536)",
        matrix.body.len()
    );

    eprintln!(
        "worst case: Slack {chars} characters, Discord {title}+{description} characters, Teams {} bytes, Matrix {} bytes",
        teams.body.len(),
        matrix.body.len()
    );
}

#[test]
fn a_discord_embed_for_refs_alone_has_no_empty_description() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"discord\"\nurl = \"{}\"\n",
        receiver.url("/discord")
    );
    let server = env.server("acme", "widgets", &config);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    env.git(&work, &["tag", "v1"]).ok();
    env.push(&work, &server, &["v1"]);
    let embed = receiver.requests()[1].json()["embeds"][0].clone();
    assert_eq!(embed["title"], "alice created tag v1 in acme/widgets");
    assert_eq!(embed.get("description"), None, "{embed}");
}
