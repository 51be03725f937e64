//! Test helpers: a hermetic environment with real Git repositories, the real binary, and
//! real servers (an HTTP receiver, an SMTP server).

pub mod http;
pub mod nats;
pub mod smtp;
pub mod teams;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pushbroker");

/// A temporary world: a home, a site config, and repositories under `srv/` and `work/`.
/// Every command runs with a cleared environment, a fixed identity and fixed dates.
pub struct TestEnv {
    pub dir: TempDir,
    extra_env: Vec<(String, String)>,
    /// The site config as the test wrote it, and the secrets it grants (see
    /// [`TestEnv::write_site`]).
    site: std::sync::Mutex<(String, Vec<String>)>,
}

/// The result of a command. The functions that return one unchecked are `#[must_use]`,
/// so no test forgets to assert on it.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the command succeeded and returns itself.
    pub fn success(self) -> Run {
        assert_eq!(
            self.status, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the command succeeded.
    pub fn ok(self) {
        let _ = self.success();
    }

    /// The `remote: pushbroker: …` lines of a push, without the prefix and padding.
    pub fn remote_lines(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|line| line.strip_prefix("remote: pushbroker: "))
            .map(|line| line.trim_end().to_string())
            .collect()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        let env = TestEnv {
            dir,
            extra_env: Vec::new(),
            site: Default::default(),
        };
        env.write_site("");
        env
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Sets a variable for every later command (pushes included: the hook inherits it).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.push((name.into(), value.into()));
    }

    pub fn site_path(&self) -> PathBuf {
        self.path("site.toml")
    }

    /// Writes the site config: `text`, the secrets granted with [`TestEnv::grant_env`],
    /// and, unless `text` has a `[network]` table of its own, an `allow` of loopback
    /// (the tests' receivers listen there; the default policy denies it).
    pub fn write_site(&self, text: &str) {
        self.site.lock().expect("site lock").0 = text.to_string();
        self.rewrite_site();
    }

    /// Grants the environment variable `name` to every repository, as the secret
    /// `name` in lower case: a repository config may then write `"secret:<name>"` or
    /// `"env:<NAME>"`.
    pub fn grant_env(&self, name: &str) {
        self.site.lock().expect("site lock").1.push(format!(
            "[secrets.{}]\nvalue = \"env:{name}\"\nrepositories = [\"**\"]\n",
            name.to_lowercase()
        ));
        self.rewrite_site();
    }

    fn rewrite_site(&self) {
        let (text, grants) = &*self.site.lock().expect("site lock");
        let mut site = text.clone();
        if !site.is_empty() && !site.ends_with('\n') {
            site.push('\n');
        }
        for grant in grants {
            site.push_str(grant);
        }
        if !text.contains("[network]") {
            site.push_str("[network]\nallow = [\"127.0.0.0/8\", \"::1/128\"]\n");
        }
        std::fs::write(self.site_path(), site).expect("write site config");
    }

    /// A command with the hermetic environment.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("LANG", "C.UTF-8")
            .env("USER", "alice")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Alice Example")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice Example")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .env("PUSHBROKER_SITE", self.site_path())
            .env("HGRCPATH", "")
            .env("HGPLAIN", "1")
            .env("HGENCODING", "utf-8")
            .env("HGUSER", "Alice Example <alice@example.com>")
            .stdin(Stdio::null());
        for (name, value) in &self.extra_env {
            command.env(name, value);
        }
        command
    }

    /// Runs git in `dir`.
    #[must_use]
    pub fn git(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command("git")
                .current_dir(dir)
                .args(args)
                .output()
                .expect("run git"),
        )
    }

    /// Runs git in `dir` and returns its trimmed stdout, asserting success.
    pub fn git_out(&self, dir: &Path, args: &[&str]) -> String {
        self.git(dir, args).success().stdout.trim().to_string()
    }

    /// Runs the binary.
    #[must_use]
    pub fn pushbroker(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command(BIN)
                .current_dir(dir)
                .args(args)
                .output()
                .expect("run pushbroker"),
        )
    }

    /// Runs the binary with `input` on stdin.
    #[must_use]
    pub fn pushbroker_with_input(
        &self,
        dir: &Path,
        args: &[&str],
        input: &str,
        envs: &[(&str, &str)],
    ) -> Run {
        use std::io::Write;
        let mut child = self
            .command(BIN)
            .current_dir(dir)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushbroker");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("wait"))
    }

    /// A bare server repository `srv/<owner>/<name>.git` with pushbroker installed by
    /// `pushbroker install` and `config` as its pushbroker.toml.
    pub fn server(&self, owner: &str, name: &str, config: &str) -> PathBuf {
        let repo = self.path(&format!("srv/{owner}/{name}.git"));
        std::fs::create_dir_all(&repo).expect("server dir");
        self.git(
            &repo,
            &["init", "--quiet", "--bare", "--initial-branch=main"],
        )
        .ok();
        self.serve(&repo, config);
        repo
    }

    /// Installs the hook in the bare Git repository `repo` and gives it `config`.
    pub fn serve(&self, repo: &Path, config: &str) {
        self.pushbroker(repo, &["install", "."]).ok();
        std::fs::write(repo.join("pushbroker.toml"), config).expect("write config");
    }

    /// A work repository `work/<name>` on branch main.
    pub fn work(&self, name: &str) -> PathBuf {
        let repo = self.path(&format!("work/{name}"));
        std::fs::create_dir_all(&repo).expect("work dir");
        self.git(&repo, &["init", "--quiet", "--initial-branch=main"])
            .ok();
        repo
    }

    /// Writes files (path, content; `None` removes) and commits them with `message`,
    /// dated `minute` minutes after 2026-11-27 10:00 +01:00. Returns the full id.
    pub fn commit(
        &self,
        repo: &Path,
        files: &[(&str, Option<&str>)],
        message: &str,
        minute: u32,
    ) -> String {
        for (path, content) in files {
            let full = repo.join(path);
            match content {
                Some(content) => {
                    std::fs::create_dir_all(full.parent().expect("parent")).expect("dirs");
                    std::fs::write(&full, content).expect("write file");
                    self.git(repo, &["add", path]).ok();
                }
                None => {
                    self.git(repo, &["rm", "--quiet", path]).ok();
                }
            }
        }
        let date = format!(
            "2026-11-27T{:02}:{:02}:00+01:00",
            10 + minute / 60,
            minute % 60
        );
        let run = Run::from(
            self.command("git")
                .current_dir(repo)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .args(["commit", "--quiet", "--allow-empty", "-m", message])
                .output()
                .expect("git commit"),
        );
        run.ok();
        self.git_out(repo, &["rev-parse", "HEAD"])
    }

    /// `git push <server> <refspecs…>` from `work`; the push must succeed.
    pub fn push(&self, work: &Path, server: &Path, refspecs: &[&str]) -> Run {
        let mut args = vec!["push", "--quiet", server.to_str().expect("utf-8 path")];
        args.extend_from_slice(refspecs);
        self.git(work, &args).success()
    }
}

impl TestEnv {
    /// Runs hg in `dir`; fails (never skips) when Mercurial is missing.
    #[must_use]
    pub fn hg(&self, dir: &Path, args: &[&str]) -> Run {
        let output = self.command("hg").current_dir(dir).args(args).output();
        match output {
            Ok(output) => Run::from(output),
            Err(error) => panic!("hg is missing ({error}): run ./install.sh --deps"),
        }
    }

    /// Runs hg in `dir` and returns its trimmed stdout, asserting success.
    pub fn hg_out(&self, dir: &Path, args: &[&str]) -> String {
        self.hg(dir, args).success().stdout.trim().to_string()
    }

    /// A Mercurial server repository `srv/<owner>/<name>` with pushbroker installed by
    /// `pushbroker install` and `config` as its pushbroker.toml.
    pub fn hg_server(&self, owner: &str, name: &str, config: &str) -> PathBuf {
        let repo = self.path(&format!("srv/{owner}/{name}"));
        std::fs::create_dir_all(repo.parent().expect("parent")).expect("server dir");
        self.hg(repo.parent().expect("parent"), &["init", name])
            .ok();
        self.pushbroker(&repo, &["install", "."]).ok();
        std::fs::write(repo.join(".hg/pushbroker.toml"), config).expect("write config");
        repo
    }

    /// A Mercurial work repository `work/<name>`.
    pub fn hg_work(&self, name: &str) -> PathBuf {
        let repo = self.path(&format!("work/{name}"));
        std::fs::create_dir_all(repo.parent().expect("parent")).expect("work dir");
        self.hg(repo.parent().expect("parent"), &["init", name])
            .ok();
        repo
    }

    /// Writes files (`None` removes) and commits them, dated `minute` minutes after
    /// 2026-11-27 10:00 +01:00. Returns the full node.
    pub fn hg_commit(
        &self,
        repo: &Path,
        files: &[(&str, Option<&str>)],
        message: &str,
        minute: u32,
    ) -> String {
        for (path, content) in files {
            let full = repo.join(path);
            match content {
                Some(content) => {
                    let new = !full.exists();
                    std::fs::create_dir_all(full.parent().expect("parent")).expect("dirs");
                    std::fs::write(&full, content).expect("write file");
                    if new {
                        self.hg(repo, &["add", path]).ok();
                    }
                }
                None => self.hg(repo, &["remove", path]).ok(),
            }
        }
        let date = format!(
            "2026-11-27 {:02}:{:02}:00 +0100",
            10 + minute / 60,
            minute % 60
        );
        self.hg(repo, &["commit", "-m", message, "-d", &date]).ok();
        self.hg_out(repo, &["log", "-r", ".", "-T", "{node}"])
    }
}

/// A `post` service in json format, with `extra` lines of config.
pub fn post_json(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[service]]\nbroker = \"post\"\nname = \"{name}\"\nurl = \"{url}\"\nformat = \"json\"\n{extra}\n"
    )
}

/// Every file under `dir`, recursively, sorted; none when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
    {
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Everything written under `dir`, as one text, to look for what must not be there.
pub fn text_under(dir: &Path) -> String {
    files_under(dir)
        .iter()
        .map(|path| String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned())
        .collect()
}

/// The spooled deliveries of `server` (not the journal, not `bad/`), sorted.
pub fn spool_files(server: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(server.join("pushbroker/spool"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every line of `server`'s delivery log, as JSON.
pub fn log_lines(server: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(server.join("pushbroker/deliveries.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid log line {line:?}: {e}"))
        })
        .collect()
}

/// The first 12 hex digits of an id.
pub fn short(id: &str) -> String {
    id[..12].to_string()
}

/// A free TCP port on loopback (bound, then released for a server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
