//! A real SMTP server: Python's aiosmtpd, storing every message in a maildir.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python interpreter that has aiosmtpd (install.sh installs it).
fn python() -> String {
    std::env::var("PUSHBROKER_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// An aiosmtpd server on 127.0.0.1; dropped, it is killed.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: Child,
}

impl SmtpServer {
    /// aiosmtpd storing every message.
    pub fn start(dir: &std::path::Path) -> SmtpServer {
        SmtpServer::with_handler(dir, "aiosmtpd.handlers.Mailbox")
    }

    /// aiosmtpd with a handler class (`module.Class`, looked up in tests/fixtures too)
    /// that takes the maildir as its argument.
    pub fn with_handler(dir: &std::path::Path, handler: &str) -> SmtpServer {
        let check = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .output();
        assert!(
            check.as_ref().is_ok_and(|output| output.status.success()),
            "the SMTP tests need Python's aiosmtpd: run ./install.sh --deps (or pip install aiosmtpd)"
        );
        let maildir = dir.join("maildir");
        let port = super::free_port();
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .env(
                "PYTHONPATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"),
            )
            .args(["-c", handler])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            port,
            maildir,
            child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received, raw, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        paths
            .iter()
            .map(|path| std::fs::read(path).expect("read message"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
