//! `pushbroker install REPO…` and `uninstall REPO…`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::install;
use crate::report;

/// Installs into (or, with `remove`, uninstalls from) every repository; a failure in one
/// is reported and the others still get done.
pub fn run(
    repos: &[PathBuf],
    remove: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode> {
    let binary = install::current_binary()?;
    let mut failed = false;
    for repo in repos {
        let result = if remove {
            install::uninstall(repo)
        } else {
            install::install(repo, &binary)
        };
        match result {
            Ok(done) => {
                for line in done {
                    writeln!(out, "{}: {line}", repo.display())?;
                }
            }
            Err(error) => {
                failed = true;
                // Most errors name the repository already; say it once.
                let text = format!("{error:#}");
                let shown = repo.display().to_string();
                match text.starts_with(&shown) {
                    true => report::line(err, &text),
                    false => report::line(err, &format!("{shown}: {text}")),
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
