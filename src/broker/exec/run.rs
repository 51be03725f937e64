//! Running a broker program: no shell, a clean environment, the payload on stdin, its
//! output captured (capped).
//!
//! The program runs in a process group of its own. Its exit ends the attempt: output
//! is read until the program has exited plus [`GRACE`], not until every process that
//! inherited the pipes has closed them, and then whatever is left of its group is
//! killed. At its timeout the whole group is killed. The program is not reaped before
//! its group is signalled (it is only observed with `WNOWAIT`), so its pid, which names
//! the group, cannot have been reused by then.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Most bytes of stdout and of stderr kept for the log.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// The `PATH` a broker gets.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// How long output is still read once the program has exited (or was killed): what it
/// wrote just before is in the pipe; a process it left behind holding the pipe is not
/// waited for any longer.
pub const GRACE: Duration = Duration::from_millis(250);
/// How often the program is checked on while it runs.
const POLL: Duration = Duration::from_millis(5);

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
    /// It exited, but a process it started still held its output [`GRACE`] later (that
    /// process was killed with the group, unless it had left the group).
    pub left_behind: bool,
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
        // Its own process group, so that everything it started can be killed with it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", program.command.display()))?;
    let deadline = Instant::now() + program.timeout;
    let group = libc::pid_t::try_from(child.id()).context("the broker's process id")?;
    let mut stdin = child.stdin.take().context("the child's stdin")?;
    let input = input.to_vec();
    // A program that does not read its stdin must not block us: write from a thread.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stdout = Capture::start(child.stdout.take().context("the child's stdout")?);
    let stderr = Capture::start(child.stderr.take().context("the child's stderr")?);

    let exited = loop {
        if has_exited(group).context("waiting for the broker")? {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        std::thread::sleep(POLL);
    };
    let closed = match exited {
        // Its output ends when the pipes close; a process it left behind may hold them.
        true => {
            let until = Instant::now() + GRACE;
            stdout.wait_until(until) & stderr.wait_until(until)
        }
        false => true,
    };
    // Nothing of the broker outlives its attempt. It is still unreaped, so the group
    // is still its own.
    kill_group(group);
    let status = child.wait().context("waiting for the broker")?;
    let exit = match exited {
        true => exit_of(status),
        false => Exit::TimedOut,
    };
    // Killed, the group's pipes close at once; one that a process outside the group
    // still holds is not waited for.
    let until = Instant::now() + GRACE;
    stdout.wait_until(until);
    stderr.wait_until(until);
    Ok(Finished {
        exit,
        stdout: stdout.text(),
        stderr: stderr.text(),
        left_behind: !closed,
    })
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Signal(0),
    }
}

/// Whether the child `pid` has ended, without reaping it.
fn has_exited(pid: libc::pid_t) -> std::io::Result<bool> {
    let id = libc::id_t::try_from(pid).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    loop {
        // SAFETY: siginfo_t is plain data; zeroed, si_pid reads 0 until a child is found.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid(2) on our own child, writing into `info`; WNOWAIT leaves it
        // waitable (it is reaped by `Child::wait`).
        let result = unsafe {
            libc::waitid(
                libc::P_PID,
                id,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if result == 0 {
            // SAFETY: waitid filled `info` (or left it zeroed: not exited yet).
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// A pipe read to its end on a thread, keeping the first [`OUTPUT_CAP`] bytes; what was
/// read so far can be taken at any time.
struct Capture {
    shared: Arc<(Mutex<Captured>, Condvar)>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    done: bool,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Capture {
        let shared = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let writer = Arc::clone(&shared);
        std::thread::spawn(move || {
            let (state, changed) = &*writer;
            let mut buffer = [0u8; 8192];
            loop {
                let read = match pipe.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => read,
                };
                let mut captured = state.lock().unwrap_or_else(|poison| poison.into_inner());
                let room = OUTPUT_CAP.saturating_sub(captured.bytes.len());
                captured.bytes.extend_from_slice(&buffer[..read.min(room)]);
            }
            let mut captured = state.lock().unwrap_or_else(|poison| poison.into_inner());
            captured.done = true;
            changed.notify_all();
        });
        Capture { shared }
    }

    /// Waits until the pipe is closed or `until`; true when it closed.
    fn wait_until(&self, until: Instant) -> bool {
        let (state, changed) = &*self.shared;
        let mut captured = state.lock().unwrap_or_else(|poison| poison.into_inner());
        while !captured.done {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            captured = changed
                .wait_timeout(captured, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poison| poison.into_inner().0);
        }
        true
    }

    /// What was read, lossily decoded.
    fn text(&self) -> String {
        let (state, _) = &*self.shared;
        let captured = state.lock().unwrap_or_else(|poison| poison.into_inner());
        String::from_utf8_lossy(&captured.bytes).into_owned()
    }
}

fn kill_group(group: libc::pid_t) {
    // SAFETY: killpg(2) signals the process group `group`, the broker's own
    // (process_group(0)); the broker is not reaped yet, so the id is still its group's.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
}
