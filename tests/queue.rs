//! Queue mode against a real `nats-server -js` and real `pushbroker worker`s: the hook
//! publishes, workers deliver; outages spool locally and never hold a push for long.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::http::Receiver;
use crate::util::nats::{Nats, Worker, wait_until};
use crate::util::{TestEnv, free_port, log_lines, post_json, spool_files, text_under};

#[test]
fn a_push_is_queued_and_a_worker_delivers_it_with_the_same_id_and_signature() {
    let mut env = TestEnv::new();
    let nats = Nats::start(&env);
    env.write_site(&nats.site(""));
    env.set_env("HOOK_SECRET", "queue-s3cret-value");
    env.grant_env("HOOK_SECRET");
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &post_json(
            "ci",
            &receiver.url("/hook"),
            "secret = \"secret:hook_secret\"",
        ),
    );
    let work = env.work("widgets");
    let head = env.commit(&work, &[("a.txt", Some("1"))], "Queued commit", 0);
    let push = env.push(&work, &server, &["main"]);
    assert_eq!(
        push.remote_lines(),
        vec!["ci (post): queued (stream sequence 1)"]
    );
    assert!(
        receiver.requests().is_empty(),
        "the hook delivers nothing itself"
    );
    let queued = log_lines(&server);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["outcome"], "queued");
    let id = queued[0]["delivery"].as_str().expect("id").to_string();

    // No resolved secret in what the queue stored.
    let stored = text_under(&nats.store);
    assert!(
        stored.contains("secret:hook_secret"),
        "the reference travels"
    );
    assert!(!stored.contains("queue-s3cret-value"));

    let worker = Worker::start(&env, "one", &["--concurrency", "2"]);
    assert!(wait_until(Duration::from_secs(10), || receiver
        .requests()
        .len()
        == 1));
    let request = receiver.only();
    assert_eq!(request.header("X-Pushbroker-Delivery"), id);
    assert_eq!(request.header("webhook-id"), id);
    let payload = request.json();
    assert_eq!(payload["delivery"], id.as_str());
    assert_eq!(payload["commits"][0]["raw_node"], head.as_str());
    assert_eq!(payload["commits"][0]["message"], "Queued commit\n");
    assert_eq!(payload["refs"][0]["ref"], "refs/heads/main");
    let signature: String = crate::post::hmac_sha256(b"queue-s3cret-value", &request.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        request.header("X-Hub-Signature-256"),
        format!("sha256={signature}")
    );

    // `log` merges the worker's attempt with the hook's line.
    assert!(wait_until(Duration::from_secs(5), || {
        let log = env.pushbroker(&server, &["log", "--json"]).success();
        log.stdout.lines().count() == 2
    }));
    let log = env.pushbroker(&server, &["log", "--json"]).success();
    let lines: Vec<Value> = log
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(lines[0]["outcome"], "queued");
    assert_eq!(lines[1]["outcome"], "delivered");
    assert_eq!(lines[1]["delivery"], id.as_str());
    assert_eq!(lines[1]["status"], 200);
    assert!(!log.stdout.contains("queue-s3cret-value"));
    assert_eq!(worker.stop(libc::SIGTERM), Some(0), "a clean stop");
    assert_eq!(receiver.requests().len(), 1, "delivered once");
}

#[test]
fn a_queue_that_is_down_or_silent_spools_promptly_and_redeliver_publishes_later() {
    let env = TestEnv::new();
    let port = free_port();
    // A server that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    for (minute, queue_port) in [(0, port), (1, silent_port)] {
        env.write_site(&format!(
            "[queue]\nurl = \"nats://127.0.0.1:{queue_port}\"\ntimeout = \"300ms\"\nretry_delay = \"200ms\"\nack_wait = \"2s\"\n"
        ));
        env.commit(&work, &[("a", Some(&minute.to_string()))], "one", minute);
        let started = Instant::now();
        let push = env.push(&work, &server, &["main"]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the push was held {:?}",
            started.elapsed()
        );
        let line = &push.remote_lines()[0];
        assert!(
            line.starts_with("ci (post): failed, spooled for `pushbroker redeliver`: the queue could not take it: "),
            "{line}"
        );
    }
    drop(silent);
    assert_eq!(spool_files(&server).len(), 2);
    let ids: Vec<String> = log_lines(&server)
        .iter()
        .map(|line| line["delivery"].as_str().expect("id").to_string())
        .collect();

    // The queue is back: redeliver republishes, a worker delivers each once.
    let nats = Nats::on_port(&env, port);
    env.write_site(&nats.site(""));
    let redeliver = env.pushbroker(&server, &["redeliver"]);
    assert_eq!(redeliver.status, 0, "{}", redeliver.stdout);
    assert_eq!(
        redeliver.stdout.matches("queued (stream sequence").count(),
        2,
        "{}",
        redeliver.stdout
    );
    assert_eq!(spool_files(&server).len(), 0);
    let _worker = Worker::start(&env, "one", &[]);
    assert!(wait_until(Duration::from_secs(10), || receiver
        .requests()
        .len()
        == 2));
    std::thread::sleep(Duration::from_millis(300));
    let mut delivered: Vec<String> = receiver
        .requests()
        .iter()
        .map(|request| request.header("X-Pushbroker-Delivery").to_string())
        .collect();
    delivered.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(delivered, expected, "each once, with its original id");
}

#[test]
fn the_same_delivery_published_twice_is_stored_and_delivered_once() {
    let env = TestEnv::new();
    let nats = Nats::start(&env);
    env.write_site(&nats.site(""));
    let site = pushbroker::config::site::load_from(&env.site_path()).expect("site");
    let queue = site.queue.expect("queue");
    let receiver = Receiver::start();
    let server = env.server("acme", "widgets", &post_json("ci", &receiver.url("/"), ""));
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    // Published again under its delivery id: what a retried publish does.
    let id = log_lines(&server)[0]["delivery"]
        .as_str()
        .expect("id")
        .to_string();
    let again = pushbroker::queue::publish::publish(
        &queue,
        &[pushbroker::queue::publish::Outgoing {
            subject: pushbroker::queue::work_subject(
                &queue,
                "post",
                &std::fs::canonicalize(&server).expect("path"),
            ),
            message_id: id.clone(),
            body: b"{}".to_vec(),
        }],
        Duration::from_secs(5),
    );
    assert_eq!(again, vec![Ok((1, true))], "the stream had it already");
    let _worker = Worker::start(&env, "one", &[]);
    assert!(wait_until(Duration::from_secs(10), || receiver
        .requests()
        .len()
        == 1));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(receiver.only().header("X-Pushbroker-Delivery"), id);
}

#[test]
fn a_worker_retries_after_its_delay_and_a_permanent_failure_is_a_dead_letter() {
    let env = TestEnv::new();
    let nats = Nats::start(&env);
    env.write_site(&nats.site(""));
    let flaky = Receiver::with_statuses(&[503]);
    let gone = Receiver::with_statuses(&[410]);
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "{}{}",
            post_json("flaky", &flaky.url("/"), ""),
            post_json("gone", &gone.url("/"), "")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let worker = Worker::start(&env, "one", &[]);
    assert!(wait_until(Duration::from_secs(10), || flaky
        .requests()
        .len()
        == 2));
    let requests = flaky.requests();
    assert_eq!(
        requests[0].header("X-Pushbroker-Delivery"),
        requests[1].header("X-Pushbroker-Delivery")
    );
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(190),
        "retried after {waited:?}"
    );
    assert!(wait_until(Duration::from_secs(5), || worker
        .output()
        .contains("dead letter")));
    assert_eq!(gone.requests().len(), 1, "a 410 is not retried");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gone.requests().len(), 1);

    // Re-queued, it is delivered (the receiver answers 200 now), with the same id.
    let requeue = env.pushbroker(&server, &["redeliver", "--dead"]);
    assert_eq!(requeue.status, 0, "{}", requeue.stdout);
    assert!(
        requeue
            .stdout
            .contains("gone: queued again (stream sequence"),
        "{}",
        requeue.stdout
    );
    assert!(wait_until(Duration::from_secs(10), || gone
        .requests()
        .len()
        == 2));
    let requests = gone.requests();
    assert_eq!(
        requests[0].header("X-Pushbroker-Delivery"),
        requests[1].header("X-Pushbroker-Delivery")
    );
    let again = env.pushbroker(&server, &["redeliver", "--dead"]).success();
    assert!(again.stdout.contains("no dead letters"), "{}", again.stdout);
}

#[test]
fn a_killed_worker_leaves_its_delivery_to_another_with_the_same_id() {
    let env = TestEnv::new();
    let nats = Nats::start(&env);
    env.write_site(&nats.site(""));
    let receiver = Receiver::hanging(Duration::from_secs(4));
    let server = env.server(
        "acme",
        "widgets",
        &post_json("slow", &receiver.url("/"), "timeout = \"8s\""),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    env.push(&work, &server, &["main"]);
    let first = Worker::start(&env, "first", &[]);
    assert!(wait_until(Duration::from_secs(10), || receiver
        .requests()
        .len()
        == 1));
    first.stop(libc::SIGKILL);
    let _second = Worker::start(&env, "second", &[]);
    // ack_wait is 2 s: the second worker gets it once the first one's claim runs out.
    assert!(wait_until(Duration::from_secs(15), || receiver
        .requests()
        .len()
        == 2));
    let requests = receiver.requests();
    assert_eq!(
        requests[0].header("X-Pushbroker-Delivery"),
        requests[1].header("X-Pushbroker-Delivery")
    );
}

#[test]
fn two_workers_deliver_a_thousand_events_each_once() {
    let env = TestEnv::new();
    let nats = Nats::start(&env);
    env.write_site(&nats.site(""));
    let receiver = Receiver::start();
    let server = env.server(
        "acme",
        "widgets",
        &format!(
            "[[service]]\nbroker = \"post\"\nname = \"gh\"\nurl = \"{}\"\nformat = \"github\"\n",
            receiver.url("/")
        ),
    );
    let work = env.work("widgets");
    env.commit(&work, &[("a", Some("1"))], "one", 0);
    for n in 0..1000 {
        env.git(&work, &["tag", &format!("t{n:04}")]).ok();
    }
    let push = env.push(&work, &server, &["--tags"]);
    assert_eq!(push.remote_lines().len(), 1000);
    let not_queued: Vec<String> = push
        .remote_lines()
        .into_iter()
        .filter(|line| !line.contains(": queued (stream sequence"))
        .collect();
    assert!(
        not_queued.is_empty(),
        "{} not queued, e.g. {:?}",
        not_queued.len(),
        not_queued.first()
    );
    let _a = Worker::start(&env, "a", &["--concurrency", "8"]);
    let _b = Worker::start(&env, "b", &["--concurrency", "8"]);
    assert!(
        wait_until(Duration::from_secs(60), || receiver.requests().len()
            >= 1000),
        "{} of 1000 delivered",
        receiver.requests().len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut ids: Vec<String> = receiver
        .requests()
        .iter()
        .map(|request| request.header("X-GitHub-Delivery").to_string())
        .collect();
    assert_eq!(ids.len(), 1000);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "no delivery twice");
}
