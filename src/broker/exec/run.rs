//! Running a broker program: no shell, a clean environment, the payload on stdin, its
//! output captured (capped), killed with its whole process group at its timeout.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Most bytes of stdout and of stderr kept for the log.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// The `PATH` a broker gets.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How to run a program once.
pub struct Program<'a> {
    /// Absolute path.
    pub command: &'a Path,
    /// Arguments.
    pub args: &'a [String],
    /// Working directory (the repository's state directory).
    pub dir: &'a Path,
    /// The whole environment it gets, besides `PATH` and `LANG`.
    pub env: Vec<(String, String)>,
    /// Killed (with its process group) after this long.
    pub timeout: Duration,
}

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Died by this signal.
    Signal(i32),
    /// Still running at its timeout: killed.
    TimedOut,
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub exit: Exit,
    /// Its stdout, at most [`OUTPUT_CAP`] bytes, lossily decoded.
    pub stdout: String,
    /// Its stderr, likewise.
    pub stderr: String,
}

/// Runs `program` with `input` on stdin. An error means it could not be started.
pub fn run(program: &Program<'_>, input: &[u8]) -> Result<Finished> {
    let lang = std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".into());
    let mut child = Command::new(program.command)
        .args(program.args)
        .current_dir(program.dir)
        .env_clear()
        .env("PATH", PATH)
        .env("LANG", lang)
        .envs(program.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so the timeout kills everything it started.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", program.command.display()))?;
    let deadline = Instant::now() + program.timeout;
    let pid = child.id();
    let mut stdin = child.stdin.take().context("the child's stdin")?;
    let input = input.to_vec();
    // A program that does not read its stdin must not block us: write from a thread.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stdout = capture(child.stdout.take().context("the child's stdout")?);
    let stderr = capture(child.stderr.take().context("the child's stderr")?);
    let exit = loop {
        if let Some(status) = child.try_wait().context("waiting for the broker")? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Signal(0),
            };
        }
        if Instant::now() >= deadline {
            kill_group(pid);
            let _ = child.wait();
            break Exit::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Output pipes close when every process holding them has exited; one the program
    // left behind is killed with its group at the deadline.
    let collect = |output: mpsc::Receiver<Vec<u8>>| {
        let wait = deadline.saturating_duration_since(Instant::now());
        let bytes = output.recv_timeout(wait).unwrap_or_else(|_| {
            kill_group(pid);
            output.recv().unwrap_or_default()
        });
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok(Finished {
        exit,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Reads a pipe to its end on a thread, keeping the first [`OUTPUT_CAP`] bytes.
fn capture(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buffer = [0u8; 8192];
        while let Ok(read) = pipe.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let room = OUTPUT_CAP.saturating_sub(kept.len());
            kept.extend_from_slice(&buffer[..read.min(room)]);
        }
        let _ = sender.send(kept);
    });
    receiver
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group; the group is
        // the child's own (process_group(0)), so nothing else is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}
