//! The `post` broker: POSTs the push to a URL, as Bitbucket's POST service did.
//!
//! `format = "bitbucket"` (default) sends `payload=<json>` form-encoded; `json` sends the
//! same object as `application/json`. Both leave out `broker` and `service`. With a
//! `secret`, every request is signed (see the `sign` module).

mod github;
mod gitlab;
mod ping;
mod sign;
pub mod template;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine;
use serde::Deserialize;

use super::{Broker, BrokerConfig, BuildContext, Delivery, Outcome, http};
use crate::config::secret::RepoSecret;
use crate::config::values::ServiceUrl;
use crate::trust::secrets::{Destination, Granted};

/// `[[service]] broker = "post"` options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostConfig {
    /// Where to POST; `user:password@` in it becomes HTTP basic auth. A URL that is
    /// itself the credential may be a granted secret, `"secret:NAME"`.
    pub url: ServiceUrl,
    /// `bitbucket` (default), `json`, `github`, `gitlab` or `template`.
    #[serde(default)]
    pub format: PostFormat,
    /// Signs every request: a secret the site grants (`"secret:NAME"`), or the
    /// repository's own, inline.
    pub secret: Option<RepoSecret>,
    /// `format = "template"`: the body's template (minijinja over the native payload).
    pub template: Option<template::TemplateText>,
    /// `format = "template"`: the template in a file of the repository's template
    /// directory, `pushbroker/templates/` (relative to it).
    pub template_file: Option<template::TemplateFile>,
    /// `format = "template"`: the body's `Content-Type` (default `application/json`).
    pub content_type: Option<String>,
    /// `format = "github"` with a `secret`: also send `X-Hub-Signature` (HMAC-SHA1)
    /// beside `X-Hub-Signature-256`, as GitHub does (default true; false where SHA-1 is
    /// not allowed).
    pub sha1_signature: Option<bool>,
}

/// The body a `post` service sends.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PostFormat {
    /// `application/x-www-form-urlencoded`, one field `payload=<json>`.
    #[default]
    Bitbucket,
    /// The payload object as `application/json`.
    Json,
    /// One GitHub `push` event per ref (`X-GitHub-Event: push`).
    Github,
    /// One GitLab Push Hook (or Tag Push Hook) per ref, the secret as `X-Gitlab-Token`.
    Gitlab,
    /// The repository admin's own body, from `template` or `template_file`.
    Template,
}

impl BrokerConfig for PostConfig {
    fn per_ref(&self) -> bool {
        matches!(self.format, PostFormat::Github | PostFormat::Gitlab)
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<dyn Broker>> {
        let target = context.grants.url(&self.url, false)?;
        let mut url = target.url;
        let basic_auth = (!url.username().is_empty()).then(|| {
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let credentials = format!(
                "{}:{}",
                decode(url.username()),
                decode(url.password().unwrap_or(""))
            );
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            )
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let agent = http::agent(context);
        let template = match self.format {
            PostFormat::Template => Some(template::Template::load(
                self.template.as_ref(),
                self.template_file.as_ref(),
                &context.state,
            )?),
            _ if self.template.is_some() || self.template_file.is_some() => {
                anyhow::bail!("template and template_file need format = \"template\"")
            }
            _ => None,
        };
        if self.sha1_signature.is_some() && self.format != PostFormat::Github {
            anyhow::bail!("sha1_signature is for format = \"github\" only");
        }
        let content_type = self
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into());
        let secret = match &self.secret {
            Some(secret) => Some(
                context
                    .grants
                    .secret(secret, Destination::Host(url.host_str().unwrap_or("")))?,
            ),
            None => None,
        };
        Ok(Box::new(PostBroker {
            url: url.to_string(),
            shown: target.shown,
            basic_auth,
            format: self.format,
            secret,
            agent,
            template,
            content_type,
            sha1_signature: self.format == PostFormat::Github
                && self.sha1_signature.unwrap_or(true),
        }))
    }
}

/// A built `post` service.
pub struct PostBroker {
    /// The URL, without user info.
    url: String,
    /// What messages show of it.
    shown: String,
    basic_auth: Option<String>,
    format: PostFormat,
    secret: Option<Granted>,
    agent: ureq::Agent,
    template: Option<template::Template>,
    /// The body's type for `format = "template"`.
    content_type: String,
    /// Signed requests also carry `X-Hub-Signature` (GitHub format).
    sha1_signature: bool,
}

/// One request, ready to send.
struct Request<'a> {
    content_type: &'a str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl PostBroker {
    fn request(&self, delivery: &Delivery<'_>) -> Result<Request<'_>> {
        self.build(delivery, true)
    }

    /// The request; without `body` (a preview, which prints the payload its own way)
    /// the json and form bodies are left empty unless a signature is made over them.
    fn build(&self, delivery: &Delivery<'_>, body: bool) -> Result<Request<'_>> {
        let body_wanted = body || self.secret.is_some();
        let mut headers = vec![
            ("X-Pushbroker-Event", "push".to_string()),
            ("X-Pushbroker-Delivery", delivery.id.to_string()),
        ];
        headers.extend(delivery.push.test_header());
        let (content_type, body) = match self.format {
            PostFormat::Bitbucket | PostFormat::Json if !body_wanted => {
                let form = self.format == PostFormat::Bitbucket;
                let kind = ["application/json", "application/x-www-form-urlencoded"];
                (kind[usize::from(form)], Vec::new())
            }
            PostFormat::Bitbucket => {
                let json = serde_json::to_string(&delivery.bare_payload())?;
                let body = format!("payload={}", form_encode(&json));
                ("application/x-www-form-urlencoded", body.into_bytes())
            }
            PostFormat::Json => (
                "application/json",
                serde_json::to_vec(&delivery.bare_payload())?,
            ),
            PostFormat::Github if delivery.ref_index.is_none() => {
                // A test of a repository with no commits: GitHub's own `ping`.
                headers.push(("X-GitHub-Event", "ping".to_string()));
                headers.push(("X-GitHub-Delivery", delivery.id.to_string()));
                let ping = ping::ping_event(delivery, &self.shown);
                ("application/json", serde_json::to_vec(&ping)?)
            }
            PostFormat::Github => {
                let event = github::push_event(delivery)
                    .context("a github delivery names one of the push's refs")?;
                headers.push(("X-GitHub-Event", "push".to_string()));
                headers.push(("X-GitHub-Delivery", delivery.id.to_string()));
                ("application/json", serde_json::to_vec(&event)?)
            }
            PostFormat::Template => {
                let template = self
                    .template
                    .as_ref()
                    .context("a template service has its template")?;
                let payload = serde_json::to_value(delivery.payload())?;
                let body = template
                    .render(&payload)
                    .context("rendering the template")?;
                (self.content_type.as_str(), body.into_bytes())
            }
            PostFormat::Gitlab => {
                let (hook, event) = gitlab::push_hook(delivery)
                    .context("a gitlab delivery names one of the push's refs")?;
                headers.push(("X-Gitlab-Event", event.to_string()));
                headers.push(("X-Gitlab-Event-UUID", delivery.id.to_string()));
                ("application/json", serde_json::to_vec(&hook)?)
            }
        };
        if let Some(secret) = &self.secret {
            let secret = secret.resolve()?;
            if self.format == PostFormat::Gitlab {
                // GitLab sends its token as is; receivers compare it.
                headers.push(("X-Gitlab-Token", secret.expose().to_string()));
            }
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs();
            if self.sha1_signature {
                headers.push(sign::sha1_header(&secret, &body));
            }
            headers.extend(sign::headers(&secret, delivery.id, timestamp, &body));
        }
        Ok(Request {
            content_type,
            body,
            headers,
        })
    }
}

impl Broker for PostBroker {
    fn deliver(&self, delivery: &Delivery<'_>) -> Outcome {
        if self.format == PostFormat::Gitlab && delivery.ref_index.is_none() {
            return Outcome::skipped("GitLab sends no test push before the first commit");
        }
        let request = match self.request(delivery) {
            Ok(request) => request,
            Err(error) => return Outcome::failed(format!("{error:#}")),
        };
        let mut headers = vec![("Content-Type", request.content_type.to_string())];
        headers.extend(
            request
                .headers
                .iter()
                .map(|(name, value)| (*name, value.clone())),
        );
        if let Some(auth) = &self.basic_auth {
            headers.push(("Authorization", auth.clone()));
        }
        http::send(
            &self.agent,
            "POST",
            &self.url,
            &self.shown,
            &headers,
            &request.body,
        )
    }

    fn destination(&self) -> Option<String> {
        url::Url::parse(&self.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
    }

    fn preview(&self, delivery: &Delivery<'_>) -> Result<String> {
        let request = self.build(delivery, false)?;
        let mut text = format!(
            "POST {}\nContent-Type: {}\n",
            self.shown, request.content_type
        );
        for (name, value) in &request.headers {
            // A token sent as is must not be shown; signatures may.
            let value = if *name == "X-Gitlab-Token" {
                "***"
            } else {
                value.as_str()
            };
            text.push_str(&format!("{name}: {value}\n"));
        }
        if self.basic_auth.is_some() {
            text.push_str("Authorization: Basic ***\n");
        }
        text.push('\n');
        if self.format == PostFormat::Bitbucket {
            text.push_str("payload=");
        }
        // Written where it is shown, not built and copied: 10,000 refs are 2.4 MB of it.
        let mut text = text.into_bytes();
        match self.format {
            PostFormat::Github if delivery.ref_index.is_none() => {
                serde_json::to_writer_pretty(&mut text, &ping::ping_event(delivery, &self.shown))?
            }
            PostFormat::Github => {
                serde_json::to_writer_pretty(&mut text, &github::push_event(delivery))?
            }
            PostFormat::Gitlab => serde_json::to_writer_pretty(
                &mut text,
                &gitlab::push_hook(delivery).map(|(hook, _)| hook),
            )?,
            _ => serde_json::to_writer_pretty(&mut text, &delivery.bare_payload())?,
        }
        text.push(b'\n');
        String::from_utf8(text).context("the payload is not UTF-8")
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (WHATWG URL standard).
/// (Hand-written: formatting each byte with `format!` made it most of a many-ref push's
/// hook run.)
pub fn form_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = Vec::with_capacity(value.len() * 3 / 2);
    for &byte in value.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                encoded.push(byte)
            }
            b' ' => encoded.push(b'+'),
            _ => encoded.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]),
        }
    }
    String::from_utf8(encoded).expect("the encoding is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips() {
        let value = "{\"a\": \"b&c=d+é\"}";
        let encoded = form_encode(value);
        assert_eq!(encoded, "%7B%22a%22%3A+%22b%26c%3Dd%2B%C3%A9%22%7D");
        let decoded: Vec<(String, String)> =
            url::form_urlencoded::parse(format!("payload={encoded}").as_bytes())
                .into_owned()
                .collect();
        assert_eq!(decoded, vec![("payload".to_string(), value.to_string())]);
    }
}
