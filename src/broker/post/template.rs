//! `format = "template"`: a body of the repository admin's own, rendered with minijinja
//! over the native payload (the object a custom broker gets). Templates are untrusted:
//! minijinja reads no files, and rendering has a fuel limit, so a template can neither
//! reach outside its payload nor loop forever; it renders in a child process with bounded
//! memory and CPU, so it cannot exhaust the hook's either.

use std::fmt;
use std::path::{Component, PathBuf};

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use minijinja::Environment;
use serde::Deserialize;
use serde::de::{Deserializer, Error};

use crate::state::StateDir;

/// Instructions one rendering may spend (a loop over 10,000 commits fits).
const FUEL: u64 = 5_000_000;

/// A template checked when the config is read: its syntax errors carry its line.
#[derive(Clone)]
pub struct TemplateText(pub String);

impl fmt::Debug for TemplateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<template, {} bytes>", self.0.len())
    }
}

impl<'de> Deserialize<'de> for TemplateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        compile_check(&text).map_err(D::Error::custom)?;
        Ok(TemplateText(text))
    }
}

/// A template file, relative to the repository's template directory
/// (`pushbroker/templates/`, see [`crate::trust::files`]).
#[derive(Debug, Clone)]
pub struct TemplateFile(pub PathBuf);

impl<'de> Deserialize<'de> for TemplateFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::from(String::deserialize(deserializer)?);
        let inside = path
            .components()
            .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
        if !inside || path.as_os_str().is_empty() {
            return Err(D::Error::custom(
                "template_file must be a relative path inside the repository's template \
                 directory (pushbroker/templates/), e.g. \"push.json.j2\"",
            ));
        }
        Ok(TemplateFile(path))
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env
}

/// The template's syntax error, with its line in the template.
fn compile_check(text: &str) -> std::result::Result<(), String> {
    let env = environment();
    env.template_from_str(text).map(|_| ()).map_err(describe)
}

fn describe(error: minijinja::Error) -> String {
    match error.line() {
        Some(line) => format!(
            "template error on its line {line}: {}",
            error.detail().unwrap_or(&error.kind().to_string())
        ),
        None => format!("template error: {error}"),
    }
}

/// A built template.
pub struct Template {
    source: String,
}

impl Template {
    /// From the config's `template` or `template_file` (read now, from the repository's
    /// template directory).
    pub fn load(
        text: Option<&TemplateText>,
        file: Option<&TemplateFile>,
        state: &StateDir,
    ) -> Result<Template> {
        let source = match (text, file) {
            (Some(text), None) => text.0.clone(),
            (None, Some(file)) => {
                let source = crate::trust::files::read_template(state, &file.0)?;
                compile_check(&source)
                    .map_err(|error| anyhow::anyhow!("{}: {error}", file.0.display()))?;
                source
            }
            _ => bail!(
                "format = \"template\" needs exactly one of template = \"…\" or template_file = \"…\""
            ),
        };
        Ok(Template { source })
    }

    /// Renders over `payload`, in a child process of its own with bounded memory and
    /// CPU ([`MEMORY_BYTES`], [`CPU_SECONDS`]): fuel bounds a template's steps, not what
    /// one step allocates (`'x' * 100000000`, joined twenty times), and a template that
    /// exhausted the hook's memory would abort it.
    pub fn render(&self, payload: &serde_json::Value) -> Result<String> {
        let input = serde_json::to_vec(&serde_json::json!({
            "template": self.source,
            "payload": payload,
        }))?;
        let program = std::env::current_exe()
            .context("finding pushbroker's own program to render the template")?;
        let mut command = Command::new(program);
        command
            .arg(RENDER_COMMAND)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                for (resource, limit) in [
                    (libc::RLIMIT_AS, MEMORY_BYTES),
                    (libc::RLIMIT_CPU, CPU_SECONDS),
                ] {
                    let limit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .context("starting the template's renderer")?;
        let mut stdin = child.stdin.take().context("the renderer's stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let mut body = Vec::new();
        child
            .stdout
            .take()
            .context("the renderer's stdout")?
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .context("reading the rendered template")?;
        if body.len() > MAX_BODY_BYTES {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the template rendered more than {} MiB: not sent",
                MAX_BODY_BYTES >> 20
            );
        }
        let mut problem = String::new();
        if let Some(stderr) = child.stderr.take() {
            let _ = stderr.take(4096).read_to_string(&mut problem);
        }
        let status = child
            .wait()
            .context("waiting for the template's renderer")?;
        let _ = writer.join();
        match status.code() {
            Some(0) => String::from_utf8(body).context("the rendered template is not UTF-8"),
            Some(_) if !problem.trim().is_empty() => bail!("{}", problem.trim()),
            _ => bail!(
                "the template needed more than {} MiB of memory or {CPU_SECONDS} s of CPU to \
                 render: not sent",
                MEMORY_BYTES >> 20
            ),
        }
    }
}

/// The hidden command the renderer runs as (`pushbroker __render-template`).
pub const RENDER_COMMAND: &str = "__render-template";
/// Most memory (address space) one rendering may use.
pub const MEMORY_BYTES: u64 = 512 << 20;
/// Most CPU time one rendering may use.
pub const CPU_SECONDS: u64 = 10;
/// The largest body a template may render.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// The renderer's side: reads `{"template", "payload"}` on stdin, writes the body on
/// stdout, or one line saying what is wrong on stderr (exit 1).
pub fn render_child() -> std::process::ExitCode {
    #[derive(Deserialize)]
    struct Input {
        template: String,
        payload: serde_json::Value,
    }
    let mut input = Vec::new();
    let rendered = std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|error| format!("reading the template: {error}"))
        .and_then(|_| {
            serde_json::from_slice::<Input>(&input)
                .map_err(|error| format!("reading the template: {error}"))
        })
        .and_then(|input| {
            let env = environment();
            env.template_from_str(&input.template)
                .and_then(|template| template.render(minijinja::value::Serde(&input.payload)))
                .map_err(describe)
        });
    match rendered {
        Ok(body) => match std::io::stdout().write_all(body.as_bytes()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::FAILURE,
        },
        Err(problem) => {
            eprintln!("{problem}");
            std::process::ExitCode::FAILURE
        }
    }
}
