//! What of a URL may be shown: in the pusher's lines, `--dry-run`, the delivery log, the
//! spool, error messages, payloads and `Debug`.
//!
//! A URL is shown with its user info, every query value and its fragment replaced by
//! `***` (a query key stays, so `?token=***` still says what was there; a part without a
//! value is masked whole). URLs whose path is
//! the credential (chat webhooks, a URL given as a secret reference) are shown as their
//! scheme and host alone.

use url::Url;

/// The mask that stands for a hidden part.
pub const MASK: &str = "***";

/// `url` with user info, query values and fragment masked.
pub fn masked(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() {
        let _ = shown.set_username(MASK);
    }
    if shown.password().is_some() {
        let _ = shown.set_password(Some(MASK));
    }
    if let Some(query) = url.query() {
        // `key=value` shows its key; a part without a value may itself be the token.
        let parts: Vec<String> = query
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((key, value)) if !value.is_empty() => format!("{key}={MASK}"),
                _ => MASK.to_string(),
            })
            .collect();
        shown.set_query(Some(&parts.join("&")));
    }
    if shown.fragment().is_some() {
        shown.set_fragment(Some(MASK));
    }
    shown.to_string()
}

/// `url` as its scheme and host alone: for URLs whose path is the credential.
pub fn host_only(url: &Url) -> String {
    match url.port() {
        Some(port) => format!(
            "{}://{}:{port}/…",
            url.scheme(),
            url.host_str().unwrap_or("")
        ),
        None => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
    }
}

/// `text` with each URL in it masked, for strings that may hold one (a config value
/// shown in a payload's `service`): a string that parses as a URL is masked whole.
pub fn masked_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) if url.has_host() => masked(&url),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(text: &str) -> String {
        masked(&Url::parse(text).expect("url"))
    }

    #[test]
    fn user_info_query_values_and_fragments_are_masked() {
        assert_eq!(
            mask("https://ci.example.com/hook?token=s3cret&project=x"),
            "https://ci.example.com/hook?token=***&project=***"
        );
        assert_eq!(
            mask("https://bot:hunter2@ci.example.com/hook#key"),
            "https://***:***@ci.example.com/hook#***"
        );
        assert_eq!(
            mask("https://ghp_token@ci.example.com/"),
            "https://***@ci.example.com/"
        );
        assert_eq!(
            mask("https://ci.example.com/a/b"),
            "https://ci.example.com/a/b"
        );
        assert_eq!(
            mask("https://ci.example.com/?s3cret"),
            "https://ci.example.com/?***"
        );
        assert_eq!(
            mask("https://ci.example.com/?S3CRET=&a=1"),
            "https://ci.example.com/?***&a=***"
        );
        assert!(!mask("https://x.example.com/?a=%73%33cret").contains("cret"));
        assert_eq!(
            host_only(&Url::parse("https://hooks.slack.com/services/T/B/X").expect("url")),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            host_only(&Url::parse("http://127.0.0.1:8080/x").expect("url")),
            "http://127.0.0.1:8080/…"
        );
    }
}
