//! `pushbroker verify PROGRAM`: runs a custom broker against the conformance cases and
//! prints what to register.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::broker::exec::{ExecBroker, sha256_file};
use crate::broker::{Delivery, Verdict};
use crate::deliver::new_delivery_id;
use crate::verify;

/// What to verify.
pub struct Request<'a> {
    /// The program.
    pub program: &'a Path,
    /// Arguments it is registered with.
    pub args: &'a [String],
    /// The name to register it under (default: the file name).
    pub name: Option<&'a str>,
    /// Each case's timeout.
    pub timeout: Duration,
}

/// Runs every case (with `PUSHBROKER_VERIFY=1`, in a scratch directory), prints one line
/// each, then the program's sha256 and the site-config snippet. Exit 1 when a case fails.
pub fn run(request: &Request<'_>, out: &mut dyn Write) -> Result<ExitCode> {
    let program = request
        .program
        .canonicalize()
        .with_context(|| format!("cannot find {}", request.program.display()))?;
    let sha256 = sha256_file(&program)?;
    let scratch = std::env::temp_dir().join(format!("pushbroker-verify-{}", new_delivery_id()));
    crate::state::create_state_dir(&scratch)?;
    let broker = ExecBroker::for_verify(&program, request.args, &scratch, request.timeout);
    let name = request.name.map_or_else(
        || {
            let stem = program
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            stem.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        },
        str::to_string,
    );
    let options = serde_json::json!({"name": "verify"});
    writeln!(
        out,
        "verifying {} against {} cases:",
        program.display(),
        verify::cases().len()
    )?;
    let mut failed = 0;
    for case in verify::cases() {
        let id = new_delivery_id();
        let delivery = Delivery {
            id: &id,
            push: &case.push,
            service: "verify",
            broker: &name,
            options: &options,
            max_commits: 0,
            ref_index: None,
        };
        let started = Instant::now();
        let attempt = broker.attempt(&delivery);
        let took = started.elapsed().as_millis();
        let outcome = attempt.outcome;
        if attempt.left_behind {
            failed += 1;
            writeln!(
                out,
                "  FAIL  {} ({took} ms): {}: a broker must leave nothing running when it exits",
                case.name, outcome.detail
            )?;
        } else if outcome.verdict == Verdict::Delivered {
            writeln!(out, "  ok    {} ({took} ms)", case.name)?;
        } else {
            failed += 1;
            writeln!(out, "  FAIL  {} ({took} ms): {}", case.name, outcome.detail)?;
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    writeln!(out, "sha256 {sha256}")?;
    if failed > 0 {
        writeln!(
            out,
            "{failed} of {} cases failed: do not register it",
            verify::cases().len()
        )?;
        return Ok(ExitCode::FAILURE);
    }
    writeln!(
        out,
        "all cases passed; to register it, add to the site config:\n"
    )?;
    writeln!(out, "[brokers.{name}]")?;
    writeln!(out, "command = {:?}", program.display().to_string())?;
    writeln!(out, "sha256 = \"{sha256}\"")?;
    if !request.args.is_empty() {
        writeln!(out, "args = {:?}", request.args)?;
    }
    Ok(ExitCode::SUCCESS)
}
