//! Mercurial in the GitHub format: `head_commit` is the changeset the ref now points to,
//! also when it was pushed earlier (a bookmark moved back, or set on an old changeset).

use crate::util::TestEnv;
use crate::util::http::Receiver;

#[test]
fn a_bookmark_on_an_older_changeset_has_that_changeset_as_head_commit() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let config = format!(
        "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n",
        receiver.url("/")
    );
    let server = env.hg_server("acme", "gadgets", &config);
    let target = server.to_str().expect("path");
    let work = env.hg_work("gadgets");
    env.hg_commit(&work, &[("a", Some("1"))], "base work", 0);
    env.hg_commit(&work, &[("a", Some("2"))], "second", 1);
    env.hg(&work, &["push", target]).ok();
    let base = env.hg_out(&work, &["log", "-r", "0", "-T", "{node}"]);

    // A new bookmark on the first changeset: no changeset is new.
    env.hg(&work, &["bookmark", "-r", "0", "release"]).ok();
    let before = receiver.requests().len();
    let run = env.hg(&work, &["push", target, "-B", "release"]);
    assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
    assert_eq!(receiver.requests().len(), before + 1, "{}", run.stderr);
    let payload = receiver.last_json();
    assert_eq!(payload["commits"], serde_json::json!([]));
    assert_eq!(payload["after"], base.as_str());
    let head = &payload["head_commit"];
    assert_eq!(head["id"], base.as_str(), "{payload:#}");
    assert_eq!(head["message"], "base work");
    assert_eq!(head["added"], serde_json::json!(["a"]));
}
