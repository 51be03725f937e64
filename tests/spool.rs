//! The spool trusts none of its files: a file's name is its identity, and a malformed or
//! inconsistent entry is reported and moved to `spool/bad/`, never acted on.

use std::path::{Path, PathBuf};

use crate::util::http::Receiver;
use crate::util::{TestEnv, free_port, post_json};
use crate::wal::{spooled, stem};

/// A server with one spooled (failed) delivery to a dead port: the server, the entry's
/// path, the port.
fn server_with_a_spooled_delivery(env: &TestEnv) -> (PathBuf, PathBuf, u16) {
    let port = free_port();
    let server = env.server(
        "acme",
        "widgets",
        &post_json("ci", &format!("http://127.0.0.1:{port}/"), ""),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let entries = spooled(&server);
    assert_eq!(entries.len(), 1);
    (server, entries[0].clone(), port)
}

/// Writes a copy of the spool entry at `from` as `<name>.json`, with `edit` applied.
fn forge(from: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from).expect("entry")).expect("json");
    edit(&mut entry);
    let path = from.with_file_name(format!("{name}.json"));
    std::fs::write(&path, entry.to_string()).expect("forge");
    path
}

const FORGED: &str = "0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a10";

#[test]
fn a_spool_entry_whose_id_climbs_out_of_the_spool_removes_nothing_outside() {
    let env = TestEnv::new();
    let (server, entry, port) = server_with_a_spooled_delivery(&env);
    let id = stem(&entry);
    // The path "<spool>/../../../victim.json" names srv/acme/victim.json.
    let victim = server.parent().expect("owner dir").join("victim.json");
    std::fs::write(&victim, "precious").expect("victim");
    let forged = forge(&entry, FORGED, |entry| {
        entry["id"] = "../../../victim".into()
    });
    let receiver = Receiver::on_port(port);
    let run = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let bad = server.join("pushbroker/spool/bad");
    assert_eq!(
        run.stdout,
        format!(
            "pushbroker: {}: its id \"../../../victim\" is not its file name: moved to {}\n\
             pushbroker: {} holds 1 files that are not valid spool entries, never redelivered: {FORGED}.json; look at them, then remove them\n\
             pushbroker: {id}: ci (post): delivered (HTTP 200)\n",
            forged.display(),
            bad.join(format!("{FORGED}.json")).display(),
            bad.display(),
        )
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert_eq!(receiver.requests().len(), 1, "only the real entry was sent");
    assert!(spooled(&server).is_empty());
}

#[test]
fn a_spool_entry_naming_another_entry_is_not_sent_again_and_again() {
    let env = TestEnv::new();
    let (server, entry, port) = server_with_a_spooled_delivery(&env);
    let id = stem(&entry);
    // A copy under another name: its id is the real entry's.
    let forged = forge(&entry, FORGED, |_| {});
    let receiver = Receiver::on_port(port);
    let run = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!(
            "pushbroker: {}: its id \"{id}\" is not its file name: moved to ",
            forged.display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(receiver.requests().len(), 1, "the delivery was sent once");
    for _ in 0..2 {
        let again = env.pushbroker(&server, &["redeliver"]);
        assert_eq!(
            again.status, 1,
            "bad files are named until the admin removes them"
        );
        assert_eq!(
            again.stdout,
            format!(
                "pushbroker: {} holds 1 files that are not valid spool entries, never redelivered: {FORGED}.json; look at them, then remove them\n",
                server.join("pushbroker/spool/bad").display()
            )
        );
    }
    assert_eq!(receiver.requests().len(), 1, "and never again");
}

#[test]
fn malformed_spool_files_are_reported_and_moved_aside_never_sent() {
    let env = TestEnv::new();
    let (server, entry, port) = server_with_a_spooled_delivery(&env);
    let spool = server.join("pushbroker/spool");
    let names = [
        "0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a11",
        "0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a12",
        "0b9e1c52-4f0a-4c1e-9a57-2d8f1f6c3a13",
    ];
    std::fs::write(spool.join(format!("{}.json", names[0])), "{not json").expect("write");
    forge(&entry, names[1], |entry| {
        entry["id"] = names[1].into();
        entry["version"] = 99.into();
    });
    forge(&entry, names[2], |entry| {
        entry["id"] = names[2].into();
        entry["ref_index"] = 7.into();
    });
    forge(&entry, "victim", |entry| entry["id"] = "victim".into());
    let receiver = Receiver::on_port(port);
    let run = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let moved = |name: &str, problem: &str| {
        format!(
            "pushbroker: {}: {problem}: moved to {}",
            spool.join(name).display(),
            spool.join("bad").join(name).display()
        )
    };
    assert!(
        lines[0].starts_with(&format!(
            "pushbroker: {}: not a spool entry (key must be a string at line 1 column 2)",
            spool.join(format!("{}.json", names[0])).display()
        )),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        moved(
            &format!("{}.json", names[1]),
            "unknown spool version 99 (this pushbroker reads 1)"
        )
    );
    assert_eq!(
        lines[2],
        moved(
            &format!("{}.json", names[2]),
            "ref_index 7 is out of range (the push has 1 refs)"
        )
    );
    assert_eq!(
        lines[3],
        moved("victim.json", "its name is not a delivery id (<uuid>.json)")
    );
    assert_eq!(
        lines[5],
        format!(
            "pushbroker: {}: ci (post): delivered (HTTP 200)",
            stem(&entry)
        )
    );
    assert_eq!(
        receiver.requests().len(),
        1,
        "only the valid entry was sent"
    );
    assert_eq!(crate::util::files_under(&spool.join("bad")).len(), 4);
}

/// The line the pusher read for a delivery refused by the dead port `port`.
fn refused(port: u16) -> String {
    format!("POST http://127.0.0.1:{port}/: io: Connection refused (os error 111)")
}

#[test]
fn a_removed_services_entries_are_kept_with_exit_3_until_dropped() {
    let env = TestEnv::new();
    let (server, entry, port) = server_with_a_spooled_delivery(&env);
    let id = stem(&entry);
    let ok = Receiver::start();
    // The admin removes the service "ci" and adds another.
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("other", &ok.url("/"), ""),
    )
    .expect("config");
    let stale = "pushbroker: the service \"ci\" is no longer configured: its 1 spooled deliveries are kept and never sent; `pushbroker redeliver --drop --service ci` drops them (or configure the service again)\n";
    for _ in 0..2 {
        let run = env.pushbroker(&server, &["redeliver"]);
        assert_eq!(run.status, 3, "{}", run.stdout);
        assert_eq!(run.stdout, stale);
        assert_eq!(spooled(&server), vec![entry.clone()]);
    }
    let dropped = env
        .pushbroker(&server, &["redeliver", "--drop", "--service", "ci"])
        .success();
    assert_eq!(
        dropped.stdout,
        format!(
            "pushbroker: {id}: ci (post): dropped; it last failed: {}\n",
            refused(port)
        )
    );
    assert!(spooled(&server).is_empty());
    let last = crate::util::log_lines(&server).pop().expect("a line");
    assert_eq!(last["delivery"], id.as_str());
    assert_eq!(last["state"], "dropped");
    assert_eq!(last["refs"], "main");
    assert_eq!(
        last["detail"],
        format!(
            "dropped by `pushbroker redeliver --drop`; it last failed: {}",
            refused(port)
        )
    );
    let after = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(after.stdout, "pushbroker: nothing to redeliver\n");
    assert!(
        ok.requests().is_empty(),
        "nothing was sent to another service"
    );
}

#[test]
fn an_off_services_entries_are_kept_with_exit_3_and_sent_when_it_is_on_again() {
    let env = TestEnv::new();
    let (server, entry, _) = server_with_a_spooled_delivery(&env);
    let receiver = Receiver::start();
    // The admin points "ci" at a live receiver but switches it off for now.
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("ci", &receiver.url("/"), "enabled = false"),
    )
    .expect("config");
    let run = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(run.status, 3, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "pushbroker: the service \"ci\" is off (enabled = false): its 1 spooled deliveries are kept until it is on again; `pushbroker redeliver --drop --service ci` drops them\n"
    );
    assert_eq!(spooled(&server), vec![entry.clone()]);
    assert!(
        receiver.requests().is_empty(),
        "an off service sends nothing"
    );
    std::fs::write(
        server.join("pushbroker.toml"),
        post_json("ci", &receiver.url("/"), ""),
    )
    .expect("config");
    let on = env.pushbroker(&server, &["redeliver"]).success();
    assert_eq!(
        on.stdout,
        format!(
            "pushbroker: {}: ci (post): delivered (HTTP 200)\n",
            stem(&entry)
        )
    );
    assert_eq!(receiver.requests().len(), 1);
    assert!(spooled(&server).is_empty());
}

#[test]
fn redeliver_drop_by_id_drops_that_entry_alone() {
    let env = TestEnv::new();
    let (server, first, port) = server_with_a_spooled_delivery(&env);
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("2"))], "two", 1);
    env.push(&work, &server, &["main"]).ok();
    let entries = spooled(&server);
    assert_eq!(entries.len(), 2);
    let second = entries.iter().find(|path| **path != first).expect("second");
    let run = env
        .pushbroker(&server, &["redeliver", "--drop", &stem(&first)])
        .success();
    assert_eq!(
        run.stdout,
        format!(
            "pushbroker: {}: ci (post): dropped; it last failed: {}\n",
            stem(&first),
            refused(port)
        )
    );
    assert_eq!(spooled(&server), vec![second.clone()]);
    // An id that names nothing: said so, exit 1, nothing dropped.
    let missing = env.pushbroker(&server, &["redeliver", "--drop", FORGED]);
    assert_eq!(missing.status, 1);
    assert_eq!(
        missing.stdout,
        format!(
            "pushbroker: {FORGED}: no such delivery in {}\n",
            server.join("pushbroker/spool").display()
        )
    );
    let bare = env.pushbroker(&server, &["redeliver", "--drop"]);
    assert_eq!(bare.status, 1);
    assert_eq!(
        bare.stderr,
        "pushbroker: error: --drop needs the delivery ids to drop, or --service NAME for all of a service's\n"
    );
    assert_eq!(spooled(&server), vec![second.clone()]);
    // --service picks one service's entries: none of "other" here, so none is tried.
    let other = env
        .pushbroker(&server, &["redeliver", "--service", "other"])
        .success();
    assert_eq!(other.stdout, "pushbroker: nothing to redeliver\n");
    assert_eq!(spooled(&server), vec![second.clone()]);
    // Still configured and failing: redeliver says so with exit 1, not 3.
    let again = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(again.status, 1, "{}", again.stdout);
}
