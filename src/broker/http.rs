//! HTTP for every broker that calls a URL (post, chat): one agent per service with the
//! service's timeout, no redirects, no proxy, the site's network policy on every
//! resolved address, and one mapping of answers to outcomes.

use std::time::Duration;

use super::{BuildContext, Outcome};
use crate::trust::net::{self, NetworkPolicy, PolicyResolver};

/// An agent for one service.
pub fn agent(context: &BuildContext<'_>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(context.timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        // A proxy would be resolved instead of the destination, around the policy.
        .proxy(None)
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
    let mut request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    for (name, value) in headers {
        request = request.header(*name, value);
    }
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
            outcome.with_status(i64::from(status))
        }
        Err(error) => {
            if let Some(refused) = net::refusal(&error) {
                return Outcome::failed(format!(
                    "{method} {shown}: refused before connecting: {refused}"
                ));
            }
            // ureq's wording may quote the URL it was given: show it as `shown` only.
            let reason = format!(
                "{method} {shown}: {}",
                error.to_string().replace(url, shown)
            );
            match error {
                ureq::Error::BadUri(_) | ureq::Error::Http(_) => Outcome::failed(reason),
                _ => Outcome::retry(reason),
            }
        }
    }
}

/// The wait a `Retry-After: <seconds>` header asks for (an HTTP date is not honoured:
/// the usual backoff applies).
fn retry_after<B>(response: &ureq::http::Response<B>) -> Option<Duration> {
    let value = response.headers().get("Retry-After")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
