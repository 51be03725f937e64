//! `pushbroker hook`: the post-receive entry point.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::deliver;
use crate::push;
use crate::repo::RepoContext;
use crate::report;
use crate::scm::git;

/// Runs the hook on `input` (the post-receive lines). Prints one line per service to
/// `err`; with `dry_run`, prints what each service would send to `out` instead.
/// Never fails the push: every problem is a line to the pusher and the exit status.
pub fn run(
    input: &str,
    dry_run: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode> {
    let context = RepoContext::open(None)?;
    let updates = git::input::parse(input)?;
    if updates.is_empty() {
        report::line(err, "no ref updates on stdin: nothing to deliver");
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = match super::load(&context) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.0 {
                report::line(err, &error.to_string());
            }
            report::line(
                err,
                "no service ran: fix the config, then run `pushbroker check`",
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut failed = false;
    for broken in &loaded.broken {
        failed = true;
        report::line(
            err,
            &format!(
                "{} ({}): failed: {:#}",
                broken.name, broken.broker_name, broken.error
            ),
        );
    }
    if loaded.services.is_empty() {
        if loaded.broken.is_empty() {
            report::line(
                err,
                &format!("no services configured in {}", loaded.config.path.display()),
            );
        }
        return Ok(exit(failed));
    }
    let limits = crate::service::limits(&loaded.services);
    let changes = git::collect(&context.git, &updates, limits)?;
    let repository = push::repository(&context, &loaded.config.repository, &loaded.site);
    let event = push::assemble(changes, repository, &loaded.site, push::pusher());
    if dry_run {
        for service in &loaded.services {
            let id = deliver::new_delivery_id();
            writeln!(out, "=== {} ({}) ===", service.name, service.broker_name)?;
            if !service.wants(&event) {
                writeln!(
                    out,
                    "(skipped: no pushed ref matches its branches filter)\n"
                )?;
                continue;
            }
            let preview = service
                .broker
                .preview(&deliver::delivery(&event, service, &id))?;
            writeln!(out, "{preview}")?;
        }
        return Ok(exit(failed));
    }
    for delivery in deliver::deliver_all(&event, &loaded.services) {
        failed |= report::is_failure(&delivery.outcome);
        report::line(err, &report::service_line(&delivery));
    }
    Ok(exit(failed))
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
