//! The `email` broker: one email per push, as the original email broker sent it, or
//! with `per_commit` a summary and one email per changeset threaded under it.
//!
//! `render` turns a delivery into subject, body and headers (`body` builds the body
//! under the service's caps); `transport` sends the message through the site's transport
//! (file, SMTP, sendmail).

mod body;
mod render;
mod transport;

use std::fmt;

use anyhow::{Context, Result};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox};
use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::{Broker, BrokerConfig, BuildContext, Delivery, Outcome};
use transport::MailTransport;

/// `[[service]] broker = "email"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Recipients: one address or a list (`"Dev <dev@example.com>"`).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "crate::config::schema::types::Recipients")]
    pub to: Vec<Address>,
    /// Sender; default the site's `[email] from`.
    pub from: Option<Address>,
    /// `Reply-To` address.
    pub reply_to: Option<Address>,
    /// Put before every subject; default `"[<repository name>] "`.
    pub subject_prefix: Option<String>,
    /// Include each changeset's patch (the "Email Diff" service).
    #[serde(default)]
    pub diff: bool,
    /// Most patch lines in one email (default 1000); the rest is counted, not sent.
    #[serde(default = "default_max_lines")]
    pub max_lines: usize,
    /// Send a short note for pushes without new changesets (default true).
    #[serde(default = "default_true")]
    pub ref_changes: bool,
    /// One email per changeset besides the push's summary email, each threaded under it
    /// with `In-Reply-To`/`References` (git-multimail's per-commit emails); default
    /// false: one email per push. At most `max_commits` changeset emails.
    #[serde(default)]
    pub per_commit: bool,
    /// Most bytes of one changeset's message (default 65,536); the rest is cut at a line's
    /// end, with a line saying so.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Most bytes of the whole body (default 1 MiB); past it the email stops, at a line's
    /// end, with a line saying so.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most refs listed (default 100); the rest are counted.
    #[serde(default = "default_max_refs")]
    pub max_refs: usize,
    /// Most files listed for one changeset (default 1000); the rest are counted.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
}

fn default_max_lines() -> usize {
    1000
}

fn default_max_message_bytes() -> usize {
    64 * 1024
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_max_refs() -> usize {
    100
}

fn default_max_files() -> usize {
    1000
}

fn default_true() -> bool {
    true
}

/// An email address, checked when the config is read.
#[derive(Clone)]
pub struct Address(pub Mailbox);

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<Mailbox>().map(Address).map_err(|_| {
            D::Error::custom(format!(
                "invalid email address {text:?}: write \"dev@example.com\" or \"Dev List <dev@example.com>\""
            ))
        })
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Address>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let raw = Raw::deserialize(deserializer)
        .map_err(|_| D::Error::custom("expected an address or a list of addresses"))?;
    let texts = match raw {
        Raw::One(text) => vec![text],
        Raw::Many(texts) => texts,
    };
    if texts.is_empty() {
        return Err(D::Error::custom(
            "`to` is empty: name at least one recipient",
        ));
    }
    texts
        .into_iter()
        .map(|text| {
            Address::deserialize(serde::de::value::StringDeserializer::<D::Error>::new(text))
        })
        .collect()
}

impl BrokerConfig for EmailConfig {
    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        let from = match (&self.from, &context.site.email.from) {
            (Some(from), _) => from.0.clone(),
            (None, Some(site_from)) => site_from.parse().with_context(|| {
                format!("the site's [email] from {site_from:?} is not an address")
            })?,
            (None, None) => default_sender(),
        };
        Ok(Box::new(EmailBroker {
            to: self.to.iter().map(|address| address.0.clone()).collect(),
            from,
            reply_to: self.reply_to.as_ref().map(|address| address.0.clone()),
            options: render::Options {
                subject_prefix: self.subject_prefix.clone(),
                diff: self.diff,
                ref_changes: self.ref_changes,
                per_commit: self.per_commit,
                caps: body::Caps {
                    message_bytes: self.max_message_bytes,
                    body_bytes: self.max_body_bytes,
                    refs: self.max_refs,
                    files: self.max_files,
                },
            },
            transport: MailTransport::build(&context.site.email, &context.state, context.timeout)?,
        }))
    }

    fn diff_lines(&self) -> Option<usize> {
        self.diff.then_some(self.max_lines)
    }
}

fn default_sender() -> Mailbox {
    let host = crate::config::site::hostname();
    format!("pushbroker <noreply@{host}>")
        .parse()
        .unwrap_or_else(|_| {
            "pushbroker <noreply@localhost>"
                .parse()
                .expect("a valid address")
        })
}

/// A built `email` service.
pub struct EmailBroker {
    to: Vec<Mailbox>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    options: render::Options,
    transport: MailTransport,
}

impl EmailBroker {
    fn message(&self, email: &render::Email) -> Result<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone())
            .date_now()
            .message_id(Some(email.message_id.clone()));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        for (name, value) in &email.headers {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.clone(),
            ));
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(encoded_body(&email.body)?)
            .context("building the email")
    }
}

/// The body as lettre would encode it, in linear time. lettre's own conversion to CRLF
/// inserts one byte at a time (quadratic: a 5 MB body of short lines took seconds), and
/// keeps a `\r` alone as it is. The encoding is chosen on the text as written, as lettre
/// chooses it (so the bytes sent do not change); then every line break becomes CRLF in
/// one pass, and lettre's own pass finds nothing left to insert.
fn encoded_body(text: &str) -> Result<Body> {
    use email_encoding::body::Encoding;
    let encoding = match Encoding::choose(text, false) {
        Encoding::SevenBit => ContentTransferEncoding::SevenBit,
        Encoding::EightBit => ContentTransferEncoding::EightBit,
        Encoding::QuotedPrintable => ContentTransferEncoding::QuotedPrintable,
        Encoding::Base64 => ContentTransferEncoding::Base64,
    };
    let lines = crate::text::crlf(text);
    if encoding == ContentTransferEncoding::SevenBit {
        // ASCII, lines shorter than 76 characters: what lettre sends as it is. (A check
        // on the CRLF text would count the CR too and pick quoted-printable for a line
        // of 74 or 75 characters, which lettre did not.)
        return Ok(Body::dangerous_pre_encoded(lines.into_bytes(), encoding));
    }
    Body::new_with_encoding(lines, encoding)
        .map_err(|_| anyhow::anyhow!("encoding the email body as {encoding:?}"))
}

impl Broker for EmailBroker {
    /// Sends the emails in order, the summary first; the first that is not delivered
    /// ends the delivery with its outcome (a retry sends them all again, with the same
    /// `Message-ID`s, so a list archive or mail reader can drop the copies).
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        let emails = render::render_all(delivery, &self.options);
        let Some(first) = emails.first() else {
            return Outcome::skipped("no new changesets and ref_changes = false");
        };
        let mut summary = match self.message(first) {
            Ok(message) => self.transport.send(&message, delivery.id),
            Err(error) => return Outcome::failed(format!("{error:#}")),
        };
        if summary.verdict != super::Verdict::Delivered {
            return summary;
        }
        let total = emails.len() - 1;
        for (index, email) in emails.iter().enumerate().skip(1) {
            let sent = match self.message(email) {
                Ok(message) => self
                    .transport
                    .send(&message, &format!("{}.{index}", delivery.id)),
                Err(error) => Outcome::failed(format!("{error:#}")),
            };
            if sent.verdict != super::Verdict::Delivered {
                let mut outcome = sent;
                outcome.detail = format!(
                    "changeset email {index} of {total}: {} (the summary and {} before it were sent)",
                    outcome.detail,
                    index - 1
                );
                return outcome;
            }
        }
        if total > 0 {
            summary.detail = format!(
                "{}; and {total} changeset email{}",
                summary.detail,
                if total == 1 { "" } else { "s" }
            );
        }
        summary
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        let emails = render::render_all(delivery, &self.options);
        if emails.is_empty() {
            return Ok("(no email: no new changesets and ref_changes = false)\n".into());
        }
        let mut text = String::new();
        for (index, email) in emails.iter().enumerate() {
            if index > 0 {
                text.push_str(&format!(
                    "\n--- changeset email {index} of {} ---\n",
                    emails.len() - 1
                ));
            }
            // The headers as sent, then the body as the reader sees it (not encoded).
            let formatted = self.message(email)?.formatted();
            let end = formatted
                .windows(4)
                .position(|window| window == b"\r\n\r\n")
                .unwrap_or(formatted.len());
            let headers = String::from_utf8_lossy(&formatted[..end]).replace("\r\n", "\n");
            text.push_str(&format!("{headers}\n\n{}", email.body));
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_encoded_byte_for_byte_as_lettre_encodes_it() {
        let long = "x".repeat(74);
        let cases = [
            "plain ascii\nshort lines\n".to_string(),
            format!("{long}\nand a line of 74, which CRLF would make look too long\n"),
            format!("{long}x\n{long}xx\n"),
            "café and a few more words\non lines\n".to_string(),
            "日本語のテキスト\nほとんど\n".repeat(20),
            "already\r\ncrlf\r\nand not\n".to_string(),
            String::new(),
            "no final line break".to_string(),
        ];
        for text in cases {
            let ours = encoded_body(&text).expect("encodes");
            let lettre = Body::new(text.clone());
            assert_eq!(ours.encoding(), lettre.encoding(), "{text:?}");
            assert_eq!(ours.into_vec(), lettre.into_vec(), "{text:?}");
        }
    }
}
