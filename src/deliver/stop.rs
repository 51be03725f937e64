//! Stopping early: SIGTERM, SIGINT and SIGHUP while deliveries run.
//!
//! [`install`] blocks the three signals in the calling thread (every thread started
//! later inherits the mask; child programs get a clean one from `std::process`) and
//! waits for them on a thread of its own with `sigwait`, so no code runs in a signal
//! handler. The first signal only sets a flag: the delivery pool starts no new attempt,
//! the hook spools what is left and exits. A second one ends the process at once; the
//! write-ahead journal (`journal.rs`) covers what was not recorded, as for SIGKILL.

use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

const HANDLED: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The signal that asked this process to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Asks every delivery of this process to stop (as `signal` would).
pub fn request(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// The signal's name, for the pusher.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Handles SIGTERM, SIGINT and SIGHUP from now on (see the module doc). Call it before
/// any other thread starts. When the waiting thread cannot be started, the signals keep
/// their default action (the journal still covers the deliveries).
pub fn install() {
    // SAFETY: `set` is a local sigset_t initialised by sigemptyset before any other use;
    // pthread_sigmask only changes this thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in HANDLED {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let waiter = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is a valid, initialised sigset_t; `signal` a valid out
                // pointer.
                if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                    continue;
                }
                if requested().is_some() {
                    // The second signal: no more waiting.
                    std::process::exit(128 + signal);
                }
                request(signal);
            }
        });
    if waiter.is_err() {
        // SAFETY: as above; restores the default delivery of the signals.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}
