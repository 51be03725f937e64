//! Mail transports: `.eml` files (default), SMTP, or a sendmail command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{Message, SendmailTransport, SmtpTransport, Transport as _};

use crate::broker::Outcome;
use crate::config::site::{EmailSite, SmtpTls, Transport};
use crate::state::StateDir;

/// A transport, built once per service from the site config.
pub enum MailTransport {
    /// Writes `<dir>/<delivery id>.eml`.
    File(PathBuf),
    /// Sends to an SMTP server, giving up after the timeout.
    Smtp(Box<SmtpTransport>, Duration),
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
            Transport::Smtp => MailTransport::Smtp(Box::new(smtp(site, timeout)?), timeout),
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
            MailTransport::Smtp(smtp, timeout) => match send_within(smtp, message, *timeout) {
                None => Outcome::retry(format!(
                    "SMTP: no complete answer within {} s",
                    timeout.as_secs_f32()
                )),
                Some(result) => smtp_outcome(result),
            },
            MailTransport::Sendmail(sendmail) => match sendmail.send(message) {
                Ok(()) => Outcome::delivered("handed to sendmail"),
                Err(error) => Outcome::retry(format!("sendmail: {error}")),
            },
        }
    }
}

/// The SMTP transport: lettre's reading of `smtp_url`, then the password from its secret
/// and the extra trusted certificates, when the site names them.
fn smtp(site: &EmailSite, timeout: Duration) -> Result<SmtpTransport> {
    let url = site
        .smtp_url
        .as_ref()
        .context("the site's [email] has transport = \"smtp\" but no smtp_url")?;
    // lettre's error for a bad URL may quote it, password included: say less.
    let mut builder = SmtpTransport::from_url(url.expose())
        .map_err(|_| anyhow::anyhow!("the site's [email] smtp_url is not a valid SMTP URL"))?;
    if let Some(password) = &site.smtp_password {
        let password = password
            .resolve()
            .context("reading the site's [email] smtp_password")?;
        builder = builder.credentials(Credentials::new(url.user(), password.expose().into()));
    }
    if let Some(path) = &site.smtp_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading smtp_ca_file {}", path.display()))?;
        let certificate = Certificate::from_pem(&pem).map_err(|_| {
            anyhow::anyhow!("smtp_ca_file {} holds no PEM certificate", path.display())
        })?;
        let parameters = TlsParameters::builder(url.host().to_string())
            .add_root_certificate(certificate)
            .build_rustls()
            .context("setting up TLS for the SMTP server")?;
        builder = builder.tls(match url.tls() {
            SmtpTls::Wrapper => Tls::Wrapper(parameters),
            SmtpTls::Opportunistic => Tls::Opportunistic(parameters),
            // `check` refuses a CA file with a plain-text URL.
            SmtpTls::Required | SmtpTls::None => Tls::Required(parameters),
        });
    }
    Ok(builder.timeout(Some(timeout)).build())
}

/// lettre's timeout bounds each socket read, not the exchange: a server that answers a
/// byte at a time could hold an attempt for ever. The send runs on a thread of its own;
/// `None` when it has not finished within `timeout` (the thread is left to the process's
/// end).
fn send_within(
    smtp: &SmtpTransport,
    message: &Message,
    timeout: Duration,
) -> Option<Result<Response, lettre::transport::smtp::Error>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (smtp, message) = (smtp.clone(), message.clone());
    std::thread::spawn(move || {
        let _ = sender.send(smtp.send(&message));
    });
    receiver.recv_timeout(timeout).ok()
}

fn smtp_outcome(result: Result<Response, lettre::transport::smtp::Error>) -> Outcome {
    match result {
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
    crate::state::create_state_dir(dir)?;
    let path = dir.join(format!("{delivery_id}.eml"));
    crate::state::write_atomically(&path, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
