//! HTTP for every broker that calls a URL (post, chat): one agent per service with the
//! service's timeout, no redirects, no proxy, the site's network policy on every
//! resolved address, and one mapping of answers to outcomes.
//!
//! Every attempt keeps its [`Exchange`] for `pushbroker log --show`: the request (the
//! URL as messages show it, the headers with every credential masked, the body up to
//! [`REQUEST_BODY_MAX`]) and the response (status, headers, the body's first
//! [`RESPONSE_BODY_MAX`]).

use std::io::Read;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{BuildContext, Outcome};
use crate::trust::net::{self, NetworkPolicy, PolicyResolver};

/// Most bytes of a request body kept for `log --show`.
pub const REQUEST_BODY_MAX: usize = 16 * 1024;
/// Most bytes of a response body read and kept.
pub const RESPONSE_BODY_MAX: usize = 4 * 1024;
/// Most headers kept of a request or a response.
const HEADERS_MAX: usize = 40;
/// Most characters of a header value kept.
const HEADER_VALUE_MAX: usize = 512;

/// One HTTP attempt as `pushbroker log --show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// What was sent.
    pub request: Message,
    /// What came back; `None` when no answer did (refused, timed out, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Message>,
}

/// A request or a response, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `POST <url as shown>`, or `HTTP <status>`.
    pub line: String,
    /// The headers, credentials masked (`***`).
    pub headers: Vec<(String, String)>,
    /// The body's first bytes (UTF-8, invalid bytes replaced).
    pub body: String,
    /// True when the body was longer than what is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

/// An agent for one service.
pub fn agent(context: &BuildContext<'_>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(context.timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        // A proxy would be resolved instead of the destination, around the policy.
        .proxy(None)
        // One connection per request, as before the response body was read for the
        // log: a kept-alive connection to a receiver that writes its headers and body
        // apart (Python's http.server) waits out Nagle and a delayed ACK, ~40 ms each.
        .max_idle_connections(0)
        .user_agent(crate::USER_AGENT)
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        PolicyResolver::new(NetworkPolicy::new(&context.site.network)),
    )
}

/// Sends `body` with `method` (POST or PUT) and turns the answer into an outcome. `shown`
/// is the URL as messages may show it (no credentials, no tokens).
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    shown: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Outcome {
    let mut sent: Vec<(&str, String)> = vec![("User-Agent", crate::USER_AGENT.to_string())];
    sent.extend(headers.iter().cloned());
    let mut exchange = Exchange {
        request: message(format!("{method} {shown}"), sent.into_iter(), body),
        response: None,
    };
    let mut request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    match request.send(body) {
        Ok(response) => {
            let status = response.status().as_u16();
            let detail = format!("HTTP {status}");
            let outcome = match status {
                200..=299 => Outcome::delivered(detail),
                408 | 429 | 500..=599 => {
                    Outcome::retry(detail).with_retry_after(retry_after(&response))
                }
                _ => Outcome::failed(detail),
            };
            exchange.response = Some(answer(response));
            outcome
                .with_status(i64::from(status))
                .with_exchange(exchange)
        }
        Err(error) => {
            if let Some(refused) = net::refusal(&error) {
                return Outcome::failed(format!(
                    "{method} {shown}: refused before connecting: {refused}"
                ))
                .with_exchange(exchange);
            }
            let reason = match &error {
                ureq::Error::Timeout(kind) => {
                    let limit = agent
                        .config()
                        .timeouts()
                        .global
                        .unwrap_or(started.elapsed());
                    format!("{method} {shown}: {}", timed_out(*kind, limit))
                }
                // ureq's wording may quote the URL it was given: show it as `shown` only.
                _ => format!(
                    "{method} {shown}: {}",
                    error.to_string().replace(url, shown)
                ),
            };
            let outcome = match error {
                ureq::Error::BadUri(_) | ureq::Error::Http(_) => Outcome::failed(reason),
                _ => Outcome::retry(reason),
            };
            outcome.with_exchange(exchange)
        }
    }
}

/// What timed out, in the admin's words, and after how long (`limit`, the service's
/// `timeout`).
fn timed_out(kind: ureq::Timeout, limit: Duration) -> String {
    let limit = duration_text(limit);
    let what = match kind {
        ureq::Timeout::Resolve => format!("resolving the host name took longer than {limit}"),
        ureq::Timeout::Connect => format!("connecting took longer than {limit}"),
        ureq::Timeout::SendRequest | ureq::Timeout::SendBody | ureq::Timeout::PerWrite => {
            format!("sending the request took longer than {limit}")
        }
        ureq::Timeout::RecvResponse => format!("the receiver did not answer within {limit}"),
        ureq::Timeout::RecvBody => format!("the answer did not finish within {limit}"),
        _ => format!("no complete answer within {limit}"),
    };
    format!(
        "timed out: {what} (the service's timeout; the receiver hung or is slower: raise `timeout` in its [[service]] table if it is only slow)"
    )
}

/// `2s`, `1.5s`, `250ms`.
pub fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        0..1000 => format!("{millis}ms"),
        _ if millis.is_multiple_of(1000) => format!("{}s", millis / 1000),
        _ => format!("{:.1}s", duration.as_secs_f64()),
    }
}

/// The response as kept: its status, headers and first bytes. A body that does not
/// arrive in time is kept as far as it came.
fn answer(response: ureq::http::Response<ureq::Body>) -> Message {
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut reader = response.into_body().into_reader();
    let _ = (&mut reader)
        .take(RESPONSE_BODY_MAX as u64 + 1)
        .read_to_end(&mut body);
    let longer = body.len() > RESPONSE_BODY_MAX;
    body.truncate(RESPONSE_BODY_MAX);
    let named = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()));
    let mut kept = message(format!("HTTP {status}"), named, &body);
    kept.cut |= longer;
    kept
}

/// A message's bounded record: headers masked, the body cut at the request's bound (a
/// response's body arrives already cut at its own).
fn message<'a>(
    line: String,
    headers: impl Iterator<Item = (&'a str, String)>,
    body: &[u8],
) -> Message {
    let kept = &body[..body.len().min(REQUEST_BODY_MAX)];
    Message {
        line,
        headers: headers
            .take(HEADERS_MAX)
            .map(|(name, value)| (name.to_string(), masked(name, &value)))
            .collect(),
        body: String::from_utf8_lossy(kept).into_owned(),
        cut: kept.len() < body.len(),
    }
}

/// A header's value as it may be kept: `***` for credentials (an `Authorization`'s
/// scheme stays), else capped.
pub fn masked(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" || lower == "proxy-authorization" {
        return match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} ***"),
            None => "***".into(),
        };
    }
    let secret = ["token", "secret", "password", "cookie", "key", "auth"]
        .iter()
        .any(|word| lower.contains(word));
    match secret {
        true => "***".into(),
        false => crate::broker::chat::cap(value, HEADER_VALUE_MAX),
    }
}

/// The wait a `Retry-After: <seconds>` header asks for (an HTTP date is not honoured:
/// the usual backoff applies).
fn retry_after<B>(response: &ureq::http::Response<B>) -> Option<Duration> {
    let value = response.headers().get("Retry-After")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_and_signatures_kept() {
        assert_eq!(masked("Authorization", "Basic dXNlcjpwYXNz"), "Basic ***");
        assert_eq!(masked("authorization", "Bearer syt_abc"), "Bearer ***");
        assert_eq!(masked("X-Gitlab-Token", "s3cret"), "***");
        assert_eq!(masked("Set-Cookie", "session=1"), "***");
        assert_eq!(masked("X-Api-Key", "k"), "***");
        assert_eq!(masked("X-Hub-Signature-256", "sha256=ab"), "sha256=ab");
        assert_eq!(
            masked("Content-Type", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn durations_read_as_an_admin_writes_them() {
        assert_eq!(duration_text(Duration::from_secs(2)), "2s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration_text(Duration::from_millis(250)), "250ms");
    }
}
