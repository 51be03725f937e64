//! The site's `[email]` table: the mail transport, and the SMTP URL that never prints
//! its password.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::secret::SecretRef;

/// `[email]`: the mail transport.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSite {
    /// `file` (default), `smtp` or `sendmail`.
    pub transport: Transport,
    /// lettre's URL form: `smtp://host:587?tls=required`, `smtps://user:pass@host`.
    pub smtp_url: Option<SmtpUrl>,
    /// The SMTP password as a secret reference (`env:NAME`, `file:/path`), for the user
    /// named in `smtp_url`; keeps the password out of the site file.
    pub smtp_password: Option<SecretRef>,
    /// PEM certificates trusted for the SMTP server's TLS, besides the public roots: an
    /// internal CA. Needs a TLS `smtp_url` (`smtps://` or `?tls=required`).
    pub smtp_ca_file: Option<PathBuf>,
    /// The sendmail command for `transport = "sendmail"`.
    pub sendmail: PathBuf,
    /// Where the file transport writes `.eml` files; default `<state>/outbox`.
    pub dir: Option<PathBuf>,
    /// The default sender; default `pushbroker <noreply@<host>>`.
    pub from: Option<String>,
}

impl Default for EmailSite {
    fn default() -> Self {
        EmailSite {
            transport: Transport::File,
            smtp_url: None,
            smtp_password: None,
            smtp_ca_file: None,
            sendmail: PathBuf::from("/usr/sbin/sendmail"),
            dir: None,
            from: None,
        }
    }
}

/// How email leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `.eml` files in a directory.
    File,
    /// An SMTP server (`smtp_url`).
    Smtp,
    /// A sendmail-compatible command.
    Sendmail,
}

/// An SMTP URL (scheme `smtp` or `smtps`, with a host); it may hold a password, so it
/// never prints whole.
#[derive(Clone)]
pub struct SmtpUrl(url::Url);

impl SmtpUrl {
    /// The URL, to hand to the transport; never for printing.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The TLS the URL asks for, as lettre reads it.
    pub fn tls(&self) -> SmtpTls {
        let tls = self.0.query_pairs().find(|(key, _)| key == "tls");
        match (
            self.0.scheme(),
            tls.as_ref().map(|(_, value)| value.as_ref()),
        ) {
            ("smtps", _) => SmtpTls::Wrapper,
            (_, Some("required")) => SmtpTls::Required,
            (_, Some("opportunistic")) => SmtpTls::Opportunistic,
            _ => SmtpTls::None,
        }
    }

    /// The host name, for the TLS certificate check.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The user name in the URL, percent-decoded; empty when there is none.
    pub fn user(&self) -> String {
        percent_encoding::percent_decode_str(self.0.username())
            .decode_utf8_lossy()
            .into_owned()
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.0.password().is_some()
    }
}

/// How an SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (`smtp://` without `tls`).
    None,
    /// STARTTLS when offered (`?tls=opportunistic`).
    Opportunistic,
    /// STARTTLS or fail (`?tls=required`).
    Required,
    /// TLS from the first byte (`smtps://`).
    Wrapper,
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.0.scheme(), self.host())
    }
}

impl<'de> Deserialize<'de> for SmtpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match url::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "smtp" | "smtps") && url.host().is_some() => {
                Ok(SmtpUrl(url))
            }
            _ => Err(D::Error::custom(
                "invalid SMTP URL: write e.g. \"smtp://mail.example.com:587?tls=required\"",
            )),
        }
    }
}
impl EmailSite {
    /// What is wrong with an `[email]` table whose keys each parsed: the key to point at and
    /// the message.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let Some(url) = &self.smtp_url else {
            return (self.transport == Transport::Smtp).then_some((
                "transport",
                "transport = \"smtp\" needs smtp_url = \"smtp://host:587?tls=required\" in [email]",
            ));
        };
        if self.smtp_password.is_some() && url.user().is_empty() {
            return Some((
                "smtp_password",
                "smtp_password needs a user name in smtp_url: write e.g. \"smtp://pushbroker@mail.example.com:587?tls=required\"",
            ));
        }
        if self.smtp_password.is_some() && url.has_password() {
            return Some((
                "smtp_password",
                "smtp_url already has a password: keep it in smtp_password only",
            ));
        }
        if self.smtp_ca_file.is_some() && matches!(url.tls(), SmtpTls::None) {
            return Some((
                "smtp_ca_file",
                "smtp_ca_file needs a TLS smtp_url: smtps://… or smtp://…?tls=required",
            ));
        }
        None
    }
}
