//! `pushbroker check [REPO]`: validates the site and repository configs, and what else
//! would make a push's deliveries fail: the hook (installed, executable, running this
//! binary), secrets it cannot read, the site config in force and the mail transport.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::config::secret::SecretRef;
use crate::config::site::{self, SmtpTls, Transport};
use crate::install::inspect::{self, Level};
use crate::repo::RepoContext;
use crate::trust::secrets::Grants;

/// What the hook's environment note says: where a push's secrets come from.
const DAEMON_NOTE: &str = "the hook runs in the environment of the daemon that receives \
    pushes (sshd, git daemon, the web server), not in yours: set it there too (e.g. \
    Environment= in its systemd unit, SetEnv for Apache), or have the site grant a \
    \"file:/path\" secret instead";

/// Prints every config error (file:line:column: message), then what else will make a
/// delivery fail (the hook, unreadable secrets, the mail transport), then the site config
/// and mail transport in force and the services (`off` for `enabled = false`). Exits 1
/// when any error was found. Warns about secrets written inline in a file others can
/// read.
pub fn run(repo: Option<&Path>, out: &mut dyn Write) -> Result<ExitCode> {
    let context = RepoContext::open(repo)?;
    let Some(loaded) = super::load_or_print(&context, out)? else {
        return Ok(ExitCode::FAILURE);
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
    let mut errors = 0;
    for broken in &loaded.broken {
        errors += 1;
        writeln!(
            out,
            "error: {}: service {:?}: {:#}",
            path.display(),
            broken.name,
            broken.error
        )?;
    }
    let binary = crate::install::current_binary()?;
    let mut info = Vec::new();
    for finding in inspect::hook(&context, &binary) {
        match finding.level {
            Level::Error => {
                errors += 1;
                writeln!(out, "error: {}", finding.text)?;
            }
            Level::Warning => writeln!(out, "warning: {}", finding.text)?,
            Level::Ok => info.push(finding.text),
        }
    }
    errors += secrets(&context, &loaded, out)?;
    let has_email = loaded
        .config
        .services
        .iter()
        .any(|service| service.enabled && service.broker == "email");
    errors += mail(&loaded.site, &context, has_email, out, &mut info)?;
    for line in info {
        writeln!(out, "{line}")?;
    }
    if !path.exists() {
        writeln!(out, "ok: {} does not exist: no services", path.display())?;
        return Ok(super::exit(errors == 0));
    }
    let names: Vec<String> = loaded
        .config
        .services
        .iter()
        .map(|service| match service.enabled {
            true => format!("{} ({})", service.name, service.broker),
            false => format!("{} ({}, off)", service.name, service.broker),
        })
        .collect();
    let services = format!(
        "{}: {} service{}{}{}",
        path.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        if names.is_empty() { "" } else { ": " },
        names.join(", ")
    );
    if errors == 0 {
        writeln!(out, "ok: {services}")?;
    } else {
        let plural = if errors == 1 { "" } else { "s" };
        writeln!(
            out,
            "failed: {errors} error{plural} above will make pushes go undelivered; {services}"
        )?;
    }
    Ok(super::exit(errors == 0))
}

/// Tries every secret the enabled services reference, as the hook would; prints an error
/// for each that cannot be read. Returns how many.
fn secrets(context: &RepoContext, loaded: &super::Loaded, out: &mut dyn Write) -> Result<usize> {
    let grants = Grants::for_repository(&loaded.site, &context.top);
    let mut errors = 0;
    let mut from_env = false;
    for service in loaded
        .config
        .services
        .iter()
        .filter(|service| service.enabled)
    {
        for reference in &service.references {
            let Some(source) = grants.source(&reference.secret) else {
                continue;
            };
            from_env |= matches!(source, SecretRef::Env(_));
            if let Err(problem) = source.resolve() {
                errors += 1;
                let at = &reference.at;
                let why = match &source {
                    SecretRef::Env(name) => format!(
                        "reads the environment variable {name}, which is not set here; \
                         {DAEMON_NOTE}"
                    ),
                    _ => format!(
                        "cannot be read: {problem:#} (the hook reads it as the user the \
                         daemon that receives pushes runs as)"
                    ),
                };
                writeln!(
                    out,
                    "error: {}:{}:{}: service {:?}: {} = \"{:?}\" {why}",
                    at.file.display(),
                    at.line,
                    at.column,
                    service.name,
                    reference.key,
                    reference.secret,
                )?;
            }
        }
    }
    if from_env && errors == 0 {
        writeln!(
            out,
            "note: the env: secrets are set in this shell; {}",
            DAEMON_NOTE.replace("set it there too", "make sure they are set there too")
        )?;
    }
    Ok(errors)
}

/// The site config in force and the effective mail transport (into `info`); errors for
/// what will make an email fail. Returns how many.
fn mail(
    site: &site::SiteConfig,
    context: &RepoContext,
    has_email: bool,
    out: &mut dyn Write,
    info: &mut Vec<String>,
) -> Result<usize> {
    // An SMTP password it cannot read is an error of the email services' builds.
    let path = site::path();
    info.push(match path.exists() {
        true => format!("site config: {}", path.display()),
        false => format!(
            "site config: none ({} does not exist): every setting at its default, mail is \
             written to .eml files",
            path.display()
        ),
    });
    let email = &site.email;
    let mut errors = 0;
    let line = match email.transport {
        Transport::File => {
            let dir = email
                .dir
                .clone()
                .unwrap_or_else(|| context.state().outbox());
            format!(
                "mail: transport = \"file\": emails are written to {}/*.eml, not sent (set \
                 [email] transport = \"smtp\" or \"sendmail\" in the site config to send them)",
                dir.display()
            )
        }
        Transport::Smtp => {
            if let Some(password) = &email.smtp_password
                && let Err(problem) = password.resolve()
            {
                let what = match password {
                    SecretRef::Env(name) => format!("{name} is not set here; {DAEMON_NOTE}"),
                    _ => format!("{problem:#}"),
                };
                // With an email service, its build already failed on it (an error above).
                let level = if has_email { "note" } else { "warning" };
                writeln!(out, "{level}: {}: smtp_password: {what}", path.display())?;
            }
            match &email.smtp_url {
                Some(url) => {
                    let user = url.user();
                    let tls = match url.tls() {
                        SmtpTls::None => "no TLS",
                        SmtpTls::Opportunistic => "STARTTLS when offered",
                        SmtpTls::Required => "STARTTLS required",
                        SmtpTls::Wrapper => "TLS",
                    };
                    format!(
                        "mail: SMTP to {url:?} ({tls}){}",
                        if user.is_empty() {
                            String::new()
                        } else {
                            format!(", as {user}")
                        }
                    )
                }
                None => "mail: SMTP".into(),
            }
        }
        Transport::Sendmail => {
            let runnable = std::fs::metadata(&email.sendmail)
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false);
            if !runnable && has_email {
                errors += 1;
                writeln!(
                    out,
                    "error: {}: sendmail = {:?} is not an executable file: every email will \
                     fail",
                    path.display(),
                    email.sendmail.display().to_string()
                )?;
            }
            format!("mail: the sendmail command {}", email.sendmail.display())
        }
    };
    info.push(line);
    Ok(errors)
}
