//! A real SMTP server: Python's aiosmtpd, storing every message in a maildir.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SMTP servers' scripts and handlers.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

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
        let maildir = dir.join("maildir");
        let port = super::free_port();
        let mut command = Command::new(python());
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", handler])
            .arg(&maildir);
        SmtpServer::spawn(command, port, maildir)
    }

    /// A server that wants TLS (`mode`: `starttls` or `smtps`) and then AUTH as `user`
    /// with `password`, presenting `certificates`' server certificate
    /// (tests/fixtures/tls_smtp.py).
    pub fn tls(
        dir: &std::path::Path,
        mode: &str,
        certificates: &Certificates,
        user: &str,
        password: &str,
    ) -> SmtpServer {
        let maildir = dir.join("maildir");
        let port = super::free_port();
        let mut command = Command::new(python());
        command
            .arg(format!("{FIXTURES}/tls_smtp.py"))
            .args([mode, &port.to_string()])
            .args([&maildir, &certificates.server, &certificates.key])
            .args([user, password]);
        SmtpServer::spawn(command, port, maildir)
    }

    /// A server that answers one byte every half second and never completes a reply in
    /// time (tests/fixtures/trickle_smtp.py).
    pub fn trickling(dir: &std::path::Path) -> SmtpServer {
        let port = super::free_port();
        let mut command = Command::new(python());
        command
            .arg(format!("{FIXTURES}/trickle_smtp.py"))
            .arg(port.to_string());
        SmtpServer::spawn(command, port, dir.join("maildir"))
    }

    fn spawn(mut command: Command, port: u16, maildir: PathBuf) -> SmtpServer {
        let check = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .output();
        assert!(
            check.as_ref().is_ok_and(|output| output.status.success()),
            "the SMTP tests need Python's aiosmtpd: run ./install.sh --deps (or pip install aiosmtpd)"
        );
        let child = command
            .env("PYTHONPATH", FIXTURES)
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

    /// What tls_smtp.py logged: one JSON object per AUTH attempt and per message.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let log = self.maildir.with_file_name("smtp-sessions.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON log line"))
            .collect()
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

/// A test CA and a server certificate it signed for 127.0.0.1 and localhost, made with
/// the openssl command line.
pub struct Certificates {
    /// The CA certificate (PEM), for `smtp_ca_file`.
    pub ca: PathBuf,
    /// The server's certificate and key (PEM).
    pub server: PathBuf,
    pub key: PathBuf,
}

impl Certificates {
    pub fn create(dir: &std::path::Path) -> Certificates {
        // Each command line is split on whitespace: no argument here has a space.
        let openssl = |line: &str| {
            let args: Vec<&str> = line.split_whitespace().collect();
            let output = Command::new("openssl")
                .args(&args)
                .current_dir(dir)
                .output()
                .expect("openssl is missing: run ./install.sh --deps");
            assert!(
                output.status.success(),
                "openssl {line}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(&format!(
            "req -x509 {new_key} -keyout ca.key -out ca.pem -days 2 -subj /CN=pushbroker-test-ca"
        ));
        openssl(&format!(
            "req {new_key} -keyout server.key -out server.csr -subj /CN=127.0.0.1"
        ));
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out server.pem -days 2 -extfile server.ext",
        );
        Certificates {
            ca: dir.join("ca.pem"),
            server: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}
