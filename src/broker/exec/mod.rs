//! Custom brokers: a program the site admin verified and registered (`[brokers.NAME]`).
//!
//! The program gets the payload (with `broker` and `service`) as JSON on stdin, and in
//! its environment `PUSHBROKER_DELIVERY`, `PUSHBROKER_SERVICE`, `PUSHBROKER_REPO` and
//! `PUSHBROKER_SECRET_<OPTION>` for every secret option (which the payload shows as
//! `"***"`). Exit 0 is delivered, 75 is "retry later", anything else a failure. A
//! program whose sha256 no longer matches its registration is not run.

pub mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{Broker, BrokerConfig, BuildContext, Delivery, Outcome};
use crate::config::secret::RepoSecret;
use crate::trust::secrets::{Destination, Granted};
use run::{Exit, Program};

/// A repository's use of a registered broker: its name and its secret options. Its other
/// options reach the program in the payload's `service`.
#[derive(Debug)]
pub struct ExecConfig {
    /// The registered name.
    pub broker: String,
    /// Options whose value is a secret, by option name.
    pub secrets: Vec<(String, RepoSecret)>,
}

impl BrokerConfig for ExecConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        let registration = context.site.brokers.get(&self.broker).with_context(|| {
            format!(
                "the broker {:?} is not registered in the site config",
                self.broker
            )
        })?;
        let secrets = self
            .secrets
            .iter()
            .map(|(option, secret)| {
                Ok((
                    option.clone(),
                    context.grants.secret(secret, Destination::Program)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Box::new(ExecBroker {
            name: self.broker.clone(),
            command: registration.command.0.clone(),
            sha256: Some(registration.sha256.0.clone()),
            args: registration.args.clone(),
            secrets,
            dir: context.state.root.clone(),
            repo: context.state.config_dir(),
            timeout: context.timeout,
            extra_env: Vec::new(),
        }))
    }
}

/// A built custom broker.
pub struct ExecBroker {
    name: String,
    command: PathBuf,
    /// The pin; `None` only for `verify`, which pins nothing yet.
    sha256: Option<String>,
    args: Vec<String>,
    secrets: Vec<(String, Granted)>,
    dir: PathBuf,
    repo: PathBuf,
    timeout: Duration,
    extra_env: Vec<(String, String)>,
}

impl ExecBroker {
    /// The broker `verify` runs: unpinned, in `dir`, with `PUSHBROKER_VERIFY=1`.
    pub fn for_verify(
        command: &Path,
        args: &[String],
        dir: &Path,
        timeout: Duration,
    ) -> ExecBroker {
        ExecBroker {
            name: "verify".into(),
            command: command.to_path_buf(),
            sha256: None,
            args: args.to_vec(),
            secrets: Vec::new(),
            dir: dir.to_path_buf(),
            repo: dir.to_path_buf(),
            timeout,
            extra_env: vec![("PUSHBROKER_VERIFY".into(), "1".into())],
        }
    }

    fn environment(&self, delivery: &Delivery<'_>) -> Result<Vec<(String, String)>> {
        let mut env = vec![
            ("PUSHBROKER_DELIVERY".to_string(), delivery.id.to_string()),
            (
                "PUSHBROKER_SERVICE".to_string(),
                delivery.service.to_string(),
            ),
            (
                "PUSHBROKER_REPO".to_string(),
                self.repo.display().to_string(),
            ),
        ];
        env.extend(self.extra_env.iter().cloned());
        for (option, secret) in &self.secrets {
            let value = secret
                .resolve()
                .with_context(|| format!("the secret option {option:?}"))?;
            env.push((secret_variable(option), value.expose().to_string()));
        }
        Ok(env)
    }

    fn check_pin(&self) -> Result<(), String> {
        let Some(pinned) = &self.sha256 else {
            return Ok(());
        };
        let actual = sha256_file(&self.command).map_err(|error| format!("{error:#}"))?;
        if &actual != pinned {
            return Err(format!(
                "{} changed since it was registered (sha256 {actual}, registered {pinned}): not run; \
                 re-verify it with `pushbroker verify` and update [brokers.{}] sha256",
                self.command.display(),
                self.name
            ));
        }
        Ok(())
    }
}

/// One attempt's outcome, and whether the program left a process behind that held
/// its output after it exited (`verify` fails such a program).
pub struct Attempt {
    /// How the delivery went.
    pub outcome: Outcome,
    /// See [`run::Finished::left_behind`].
    pub left_behind: bool,
}

impl ExecBroker {
    /// Runs the program once on `delivery`.
    pub fn attempt(&self, delivery: &Delivery<'_>) -> Attempt {
        let outcome = |outcome| Attempt {
            outcome,
            left_behind: false,
        };
        if let Err(reason) = self.check_pin() {
            return outcome(Outcome::failed(reason));
        }
        let (env, input) = match self.environment(delivery).and_then(|env| {
            let input =
                serde_json::to_vec(&delivery.payload()).context("serializing the payload")?;
            Ok((env, input))
        }) {
            Ok(prepared) => prepared,
            Err(error) => return outcome(Outcome::failed(format!("{error:#}"))),
        };
        let program = Program {
            command: &self.command,
            args: &self.args,
            dir: &self.dir,
            env,
            timeout: self.timeout,
        };
        if let Err(error) = crate::state::create_state_dir(&self.dir) {
            return outcome(Outcome::retry(format!("{error:#}")));
        }
        let finished = match run::run(&program, &input) {
            Ok(finished) => finished,
            Err(error) => return outcome(Outcome::failed(format!("{error:#}"))),
        };
        let output = format_output(&finished.stdout, &finished.stderr);
        let last_words = finished
            .stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(|line| format!(": {}", crate::text::one_line(line, 200)))
            .unwrap_or_default();
        let left = match finished.left_behind {
            true => LEFT_BEHIND,
            false => "",
        };
        let outcome = match finished.exit {
            Exit::Code(0) => Outcome::delivered(format!("exit 0{left}")),
            Exit::Code(75) => Outcome::retry(format!("exit 75 (temporary failure){last_words}")),
            Exit::Code(code) => Outcome::failed(format!("exit {code}{left}{last_words}")),
            Exit::Signal(signal) => {
                Outcome::failed(format!("killed by signal {signal}{last_words}"))
            }
            Exit::TimedOut => {
                Outcome::retry(format!("killed after its {:?} timeout", self.timeout))
            }
        };
        let outcome = match finished.exit {
            Exit::Code(code) => outcome.with_status(i64::from(code)),
            _ => outcome,
        };
        Attempt {
            outcome: outcome.with_output(output),
            left_behind: finished.left_behind,
        }
    }
}

/// Said after the exit code of a program that left a process holding its output.
const LEFT_BEHIND: &str = ", but a process it left behind held its output (killed)";

impl Broker for ExecBroker {
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        self.attempt(delivery).outcome
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        let mut text = format!("run {}", self.command.display());
        for arg in &self.args {
            text.push(' ');
            text.push_str(arg);
        }
        text.push('\n');
        for (option, _) in &self.secrets {
            text.push_str(&format!("{}=***\n", secret_variable(option)));
        }
        text.push_str("stdin:\n");
        text.push_str(&serde_json::to_string_pretty(&delivery.payload())?);
        text.push('\n');
        Ok(text)
    }
}

/// `PUSHBROKER_SECRET_<OPTION>`: the option name upper-cased, other characters as `_`.
pub fn secret_variable(option: &str) -> String {
    let name: String = option
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PUSHBROKER_SECRET_{name}")
}

/// A file's sha256, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn format_output(stdout: &str, stderr: &str) -> Option<String> {
    match (stdout.trim().is_empty(), stderr.trim().is_empty()) {
        (true, true) => None,
        (false, true) => Some(stdout.to_string()),
        (true, false) => Some(stderr.to_string()),
        (false, false) => Some(format!("{stdout}\n--- stderr ---\n{stderr}")),
    }
}
