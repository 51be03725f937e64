//! Request signatures: GitHub's `X-Hub-Signature-256` (and `X-Hub-Signature`, its
//! HMAC-SHA1 one) and Standard Webhooks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::config::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The signature headers for `body`: `X-Hub-Signature-256` (HMAC-SHA256 of the exact
/// body, hex) and the Standard Webhooks `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` (HMAC-SHA256 of `id.timestamp.body`, base64). A `whsec_` secret
/// is base64-decoded first for the latter, as the Standard Webhooks spec says.
pub fn headers(
    secret: &Secret,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let hub = hmac(secret.expose().as_bytes(), &[body]);
    let key = standard_webhooks_key(secret.expose());
    let signed = hmac(
        &key,
        &[
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    vec![
        ("X-Hub-Signature-256", format!("sha256={}", hex(&hub))),
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            format!("v1,{}", STANDARD.encode(signed)),
        ),
    ]
}

/// GitHub's older `X-Hub-Signature`: HMAC-SHA1 of the exact body, hex, as GitHub still
/// sends beside `X-Hub-Signature-256` (Buildbot checks only this one).
pub fn sha1_header(secret: &Secret, body: &[u8]) -> (&'static str, String) {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    (
        "X-Hub-Signature",
        format!("sha1={}", hex(&mac.finalize().into_bytes())),
    )
}

fn standard_webhooks_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::SecretRef;

    fn secret(text: &str) -> Secret {
        SecretRef::parse(text)
            .and_then(|s| s.resolve().map_err(|e| e.to_string()))
            .expect("inline")
    }

    #[test]
    fn github_signature_matches_the_documented_example() {
        // GitHub's docs: secret "It's a Secret to Everybody", body "Hello, World!".
        let headers = headers(
            &secret("It's a Secret to Everybody"),
            "id",
            0,
            b"Hello, World!",
        );
        assert_eq!(
            headers[0].1,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn sha1_signature_matches_a_known_vector() {
        // RFC 2202 test case 2: key "Jefe", "what do ya want for nothing?".
        let (name, value) = sha1_header(&secret("Jefe"), b"what do ya want for nothing?");
        assert_eq!(name, "X-Hub-Signature");
        assert_eq!(value, "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn standard_webhooks_signature_matches_the_reference_vector() {
        // The reference libraries' test vector.
        let headers = headers(
            &secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            headers[3].1,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(headers[2].1, "1614265330");
    }
}
