//! The order of `commits` (README "Order"): parents before children always; across refs,
//! grouped by the pushed branch each is attributed to, in the hook's input order, then
//! the commits only a tag or other ref brings.

use serde_json::Value;

use crate::util::http::Receiver;
use crate::util::{TestEnv, post_json};

fn ids(payload: &Value) -> Vec<String> {
    payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|commit| commit["raw_node"].as_str().expect("raw_node").to_string())
        .collect()
}

#[test]
fn commits_are_grouped_by_ref_in_input_order_tag_only_ones_last() {
    let env = TestEnv::new();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    let base = env.commit(&work, &[("a", Some("0"))], "base", 0);
    env.push(&work, &server, &["main"]);
    // The feature's commits are older than main's: time does not decide.
    env.git(&work, &["checkout", "--quiet", "-b", "feature"])
        .ok();
    let f1 = env.commit(&work, &[("f", Some("1"))], "feature 1", 1);
    let f2 = env.commit(&work, &[("f", Some("2"))], "feature 2", 2);
    env.git(&work, &["checkout", "--quiet", "-b", "side", "main"])
        .ok();
    let s1 = env.commit(&work, &[("s", Some("1"))], "only the tag", 3);
    env.git(&work, &["tag", "-a", "-m", "v1", "v1"]).ok();
    env.git(&work, &["checkout", "--quiet", "main"]).ok();
    let m1 = env.commit(&work, &[("m", Some("1"))], "main 1", 4);
    let m2 = env.commit(&work, &[("m", Some("2"))], "main 2", 5);

    // A real push: each branch's commits together, in the order of `refs`.
    env.push(&work, &server, &["main", "feature"]);
    let payload = receiver.last_json();
    let refs: Vec<&str> = payload["refs"]
        .as_array()
        .expect("refs")
        .iter()
        .map(|change| change["name"].as_str().expect("name"))
        .collect();
    let mut expected = Vec::new();
    for name in &refs {
        match *name {
            "main" => expected.extend([m1.clone(), m2.clone()]),
            "feature" => expected.extend([f1.clone(), f2.clone()]),
            other => panic!("unexpected ref {other}"),
        }
    }
    assert_eq!(ids(&payload), expected, "refs {refs:?}");
    env.push(&work, &server, &["v1"]);

    // The same push told in a chosen input order, with the tag first: the tag-only
    // commit still comes last, the branches in the order given.
    let zero = "0".repeat(40);
    let tag = env.git_out(&work, &["rev-parse", "v1"]);
    let run = env
        .pushbroker(
            &server,
            &[
                "payload",
                &zero,
                &tag,
                "refs/tags/v1",
                &base,
                &f2,
                "refs/heads/feature",
                &base,
                &m2,
                "refs/heads/main",
            ],
        )
        .success();
    let payload: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(ids(&payload), vec![f1, f2, m1, m2, s1.clone()]);
    let branches: Vec<Value> = payload["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|commit| commit["branch"].clone())
        .collect();
    assert_eq!(
        branches,
        vec![
            "feature".into(),
            "feature".into(),
            "main".into(),
            "main".into(),
            Value::Null
        ]
    );
}
