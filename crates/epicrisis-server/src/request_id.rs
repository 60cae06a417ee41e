//! Request ids: every request gets one, carried by the `request` span of its log lines
//! and returned in the `X-Request-Id` header, so that a complaint, a proxy's log line and
//! the server's lines meet.
//!
//! A client's (or a reverse proxy's) `X-Request-Id` is kept only when it is a safe token:
//! 16 to 64 characters of `A-Z a-z 0-9 - _`, not all digits. Anything else is replaced:
//! a header is the client's text, and a RUT (`12345678-9`), an episode number or a name
//! must not reach the logs through it. UUIDs, nginx's `$request_id` (32 hex digits) and
//! ULIDs pass.

use axum::http::HeaderMap;

/// The header read and written.
pub const HEADER: &str = "x-request-id";

/// Whether a client's id may be used as it is.
pub fn is_safe(v: &str) -> bool {
    (16..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !v
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The request's id: the client's when safe, else a new one.
pub fn of(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| is_safe(v))
        .map_or_else(new, str::to_string)
}

/// 32 random hexadecimal digits (a counter and the time if the system gives no random
/// numbers: ids need to be distinct, not secret).
pub fn new() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[..8].copy_from_slice(&n.to_le_bytes());
        b[8..].copy_from_slice(&(crate::now_ms() as u64).to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn safe_tokens_pass_and_identifiers_do_not() {
        assert!(is_safe("3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"), "a UUID");
        assert!(is_safe("0123456789abcdef0123456789abcdef"), "nginx");
        assert!(is_safe("01ARZ3NDEKTSV4RRFFQ69G5FAV"), "a ULID");
        for bad in [
            "12345678-9",                // a RUT
            "1234567890123456",          // digits only: an episode number
            "2024-0001234-000000000001", // digits and dashes only
            "short",
            "Juan_Perez González 123456",
            "a\"b",
            &"x".repeat(65),
        ] {
            assert!(!is_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_unsafe_or_missing_header_gets_a_new_id() {
        let mut h = HeaderMap::new();
        let fresh = of(&h);
        assert_eq!(fresh.len(), 32);
        assert!(is_safe(&fresh) || fresh.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(of(&h), fresh);
        h.insert(HEADER, HeaderValue::from_static("12345678-9"));
        assert_ne!(of(&h), "12345678-9");
        h.insert(
            HEADER,
            HeaderValue::from_static("proxy-id-0123456789abcdef"),
        );
        assert_eq!(of(&h), "proxy-id-0123456789abcdef");
    }
}
