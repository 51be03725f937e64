//! Mail transports: `.eml` files (default), SMTP, or a sendmail command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::{Message, SendmailTransport, SmtpTransport, Transport as _};

use crate::broker::Outcome;
use crate::config::site::{EmailSite, Transport};
use crate::state::StateDir;

/// A transport, built once per service from the site config.
pub enum MailTransport {
    /// Writes `<dir>/<delivery id>.eml`.
    File(PathBuf),
    /// Sends to an SMTP server.
    Smtp(Box<SmtpTransport>),
    /// Pipes to a sendmail command.
    Sendmail(SendmailTransport),
}

impl MailTransport {
    /// The transport the site config names.
    pub fn build(site: &EmailSite, state: &StateDir, timeout: Duration) -> Result<MailTransport> {
        Ok(match site.transport {
            Transport::File => {
                MailTransport::File(site.dir.clone().unwrap_or_else(|| state.outbox()))
            }
            Transport::Smtp => {
                let url = site
                    .smtp_url
                    .as_ref()
                    .context("the site's [email] has transport = \"smtp\" but no smtp_url")?;
                // lettre's error for a bad URL may quote it, password included: say less.
                let builder = SmtpTransport::from_url(url.expose()).map_err(|_| {
                    anyhow::anyhow!("the site's [email] smtp_url is not a valid SMTP URL")
                })?;
                MailTransport::Smtp(Box::new(builder.timeout(Some(timeout)).build()))
            }
            Transport::Sendmail => {
                MailTransport::Sendmail(SendmailTransport::new_with_command(site.sendmail.clone()))
            }
        })
    }

    /// Sends `message`; the outcome's detail is the server's reply or the file written.
    pub fn send(&self, message: &Message, delivery_id: &str) -> Outcome {
        match self {
            MailTransport::File(dir) => match write_eml(dir, delivery_id, &message.formatted()) {
                Ok(path) => Outcome::delivered(format!("written to {}", path.display())),
                Err(error) => Outcome::retry(format!("{error:#}")),
            },
            MailTransport::Smtp(smtp) => match smtp.send(message) {
                Ok(response) => {
                    let code = response.code().to_string();
                    let outcome = Outcome::delivered(format!(
                        "SMTP {code} {}",
                        response.first_line().unwrap_or("").trim()
                    ));
                    with_code(outcome, &code)
                }
                Err(error) => {
                    let outcome = if error.is_permanent() {
                        Outcome::failed(format!("SMTP: {error}"))
                    } else {
                        Outcome::retry(format!("SMTP: {error}"))
                    };
                    match error.status() {
                        Some(code) => with_code(outcome, &code.to_string()),
                        None => outcome,
                    }
                }
            },
            MailTransport::Sendmail(sendmail) => match sendmail.send(message) {
                Ok(()) => Outcome::delivered("handed to sendmail"),
                Err(error) => Outcome::retry(format!("sendmail: {error}")),
            },
        }
    }
}

fn with_code(outcome: Outcome, code: &str) -> Outcome {
    match code.parse() {
        Ok(code) => outcome.with_status(code),
        Err(_) => outcome,
    }
}

/// Writes the message atomically: a temporary file, synced, then renamed.
fn write_eml(dir: &Path, delivery_id: &str, bytes: &[u8]) -> Result<PathBuf> {
    crate::state::create_private_dir(dir)?;
    let path = dir.join(format!("{delivery_id}.eml"));
    crate::state::write_atomically(&path, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
