//! Webhook signatures in the Stripe scheme: the header
//! `Agora-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`,
//! possibly with several `v1=` (while a secret is being rolled). The
//! provider signs ([`sign`]); the receiver checks ([`verify`]) in
//! constant time and refuses a timestamp outside the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "agora-signature";

/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `t` with `secret`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No header, or not `t=…,v1=…`.
    #[error("the Agora-Signature header is missing or malformed (expected t=<unix>,v1=<hex>)")]
    Malformed,
    /// The timestamp is too old or too far ahead.
    #[error("the signature's timestamp is {0} s from now, beyond the {TOLERANCE_SECS} s tolerance")]
    Stale(i64),
    /// No `v1` matches.
    #[error("no v1 signature matches the body (wrong secret or altered body)")]
    Mismatch,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks `header` against `body` with `secret` at `now` (unix seconds).
///
/// # Errors
/// [`Refused`].
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), Refused> {
    let header = header.ok_or(Refused::Malformed)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<i64>().map_err(|_| Refused::Malformed)?),
            Some(("v1", value)) => v1.push(value),
            // Other schemes (v0, …) are ignored, as Stripe's libraries do.
            Some(_) => {}
            None => return Err(Refused::Malformed),
        }
    }
    let t = t.ok_or(Refused::Malformed)?;
    if v1.is_empty() {
        return Err(Refused::Malformed);
    }
    let skew = now.saturating_sub(t);
    if skew.abs() > TOLERANCE_SECS {
        return Err(Refused::Stale(skew));
    }
    for candidate in v1 {
        if let Some(tag) = unhex(candidate)
            && mac(secret, t, body).verify_slice(&tag).is_ok()
        {
            return Ok(());
        }
    }
    Err(Refused::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_good_signature_passes() {
        let h = sign(SECRET, 1_000, BODY);
        assert!(h.starts_with("t=1000,v1="), "{h}");
        assert_eq!(verify(SECRET, Some(&h), BODY, 1_000), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&h), BODY, 1_000 + TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn forged_altered_or_other_secret_fails() {
        let h = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(b"other", Some(&h), BODY, 1_000),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(&h), br#"{"id":"evt_2"}"#, 1_000),
            Err(Refused::Mismatch)
        );
        let forged = format!("t=1000,v1={}", "ab".repeat(32));
        assert_eq!(
            verify(SECRET, Some(&forged), BODY, 1_000),
            Err(Refused::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the signature.
        let moved = h.replace("t=1000", "t=1001");
        assert_eq!(
            verify(SECRET, Some(&moved), BODY, 1_000),
            Err(Refused::Mismatch)
        );
    }

    #[test]
    fn stale_or_future_timestamps_fail() {
        let h = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, Some(&h), BODY, 1_000 + TOLERANCE_SECS + 1),
            Err(Refused::Stale(TOLERANCE_SECS + 1))
        );
        assert!(matches!(
            verify(SECRET, Some(&h), BODY, 1_000 - TOLERANCE_SECS - 1),
            Err(Refused::Stale(_))
        ));
    }

    #[test]
    fn any_of_several_v1_may_match() {
        let good = sign(SECRET, 1_000, BODY);
        let tag = good.split_once("v1=").unwrap().1;
        let h = format!("t=1000,v1={},v0=zz,v1={tag}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&h), BODY, 1_000), Ok(()));
    }

    #[test]
    fn malformed_headers_fail() {
        for h in [
            "",
            "t=1000",
            "v1=abcd",
            "t=x,v1=ab",
            "garbage",
            "t=1000;v1=ab",
        ] {
            assert!(
                matches!(
                    verify(SECRET, Some(h), BODY, 1_000),
                    Err(Refused::Malformed | Refused::Mismatch)
                ),
                "{h}"
            );
        }
        assert_eq!(verify(SECRET, None, BODY, 1_000), Err(Refused::Malformed));
        let odd = "t=1000,v1=abc";
        assert_eq!(
            verify(SECRET, Some(odd), BODY, 1_000),
            Err(Refused::Mismatch)
        );
    }
}
