//! `format = "template"`: a body of the repository admin's own, rendered with minijinja
//! over the native payload (the object a custom broker gets). Templates are untrusted:
//! minijinja reads no files, and rendering has a fuel limit, so a template can neither
//! reach outside its payload nor loop forever.

use std::fmt;
use std::path::{Component, PathBuf};

use anyhow::{Result, bail};
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

    /// Renders over `payload`.
    pub fn render(&self, payload: &serde_json::Value) -> Result<String> {
        let env = environment();
        let template = env
            .template_from_str(&self.source)
            .map_err(|error| anyhow::anyhow!(describe(error)))?;
        template
            .render(minijinja::value::Serde(payload))
            .map_err(|error| anyhow::anyhow!(describe(error)))
    }
}
