//! A real `nats-server` with JetStream, on 127.0.0.1 with a free port and a store of its
//! own, and real `pushbroker worker`s; each stopped by its pid when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{BIN, TestEnv, free_port};

/// A running nats-server.
pub struct Nats {
    pub port: u16,
    pub store: PathBuf,
    child: Child,
}

impl Nats {
    /// Starts a JetStream server on a free port; fails (never skips) when nats-server
    /// is missing.
    pub fn start(env: &TestEnv) -> Nats {
        Nats::on_port(env, free_port())
    }

    /// Starts one on `port`, with its store under the test's directory.
    pub fn on_port(env: &TestEnv, port: u16) -> Nats {
        let store = env.path(&format!("nats-{port}"));
        std::fs::create_dir_all(&store).expect("store");
        let child = Command::new(nats_server())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("nats-server is missing ({error}): run ./install.sh --deps")
            });
        let nats = Nats { port, store, child };
        wait_for_port(port);
        nats
    }

    /// The site config's `[queue]` table for this server, with `extra` lines.
    pub fn site(&self, extra: &str) -> String {
        format!(
            "[queue]\nurl = \"nats://127.0.0.1:{}\"\nretry_delay = \"200ms\"\nack_wait = \"2s\"\n{extra}",
            self.port
        )
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nats_server() -> &'static str {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or("nats-server")
}

/// Waits until something listens on `port` (at most 10 s).
pub fn wait_for_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `pushbroker worker`.
pub struct Worker {
    child: Child,
    pub log: PathBuf,
}

impl Worker {
    /// Starts a worker with the test's environment and `args`; its stderr goes to a file.
    pub fn start(env: &TestEnv, name: &str, args: &[&str]) -> Worker {
        let log = env.path(&format!("worker-{name}.log"));
        let state = env.path(&format!("worker-{name}"));
        let child = env
            .command(BIN)
            .arg("worker")
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("worker log"))
            .spawn()
            .expect("start the worker");
        let worker = Worker { child, log };
        let started = Instant::now();
        while !worker.output().contains("taking deliveries") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the worker did not start: {}",
                worker.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        worker
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` and waits for it to exit; its exit status.
    pub fn stop(mut self, signal: i32) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let status = self.child.wait().expect("wait for the worker");
        status.code()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds (at most `limit`).
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}
