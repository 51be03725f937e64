//! `pushbroker check [REPO]`: validates the site and repository configs.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::repo::RepoContext;

/// Prints every config error (file:line:column: message) and exits 1 when there is any;
/// otherwise lists the services. Warns about secrets written inline in a file others
/// can read.
pub fn run(repo: Option<&Path>, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let loaded = match super::load(&context) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                writeln!(out, "error: {error}")?;
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let path = &loaded.config.path;
    let readable_by_others = std::fs::metadata(path)
        .map(|meta| meta.permissions().mode() & 0o004 != 0)
        .unwrap_or(false);
    if readable_by_others {
        for warning in &loaded.config.inline_secrets {
            writeln!(out, "warning: {warning} (the file is readable by others)")?;
        }
    }
    for broken in &loaded.broken {
        writeln!(
            out,
            "error: {}: service {:?}: {:#}",
            path.display(),
            broken.name,
            broken.error
        )?;
    }
    if !loaded.broken.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    if !path.exists() {
        writeln!(out, "ok: {} does not exist: no services", path.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> = loaded
        .services
        .iter()
        .map(|service| format!("{} ({})", service.name, service.broker_name))
        .collect();
    writeln!(
        out,
        "ok: {}: {} service{}{}{}",
        path.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        if names.is_empty() { "" } else { ": " },
        names.join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}
