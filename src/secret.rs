//! Secrets in memory: buffers overwritten once read, and comparisons that take
//! the same time whatever they compare.

/// Overwrites a request body we were its only holder of (a form with a password,
/// a webhook with a caller's number and a text). Bytes shared with someone else,
/// and the server library's own read buffers, are out of reach.
pub fn zeroize_body(body: axum::body::Bytes) {
    drop(wiped(body));
}

/// The body's buffer, overwritten, when nobody else holds it.
fn wiped(body: axum::body::Bytes) -> Option<bytes::BytesMut> {
    use zeroize::Zeroize;
    let mut unique = body.try_into_mut().ok()?;
    unique.as_mut().zeroize();
    Some(unique)
}

/// Compares two secrets in time that depends on their length only.
pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_body_only_we_hold_is_overwritten() {
        let body = axum::body::Bytes::from(b"From=%2B14155550123&Body=two+vans".to_vec());
        let wiped = super::wiped(body).expect("held by nobody else");
        assert!(!wiped.is_empty() && wiped.iter().all(|b| *b == 0));
        let shared = axum::body::Bytes::from(b"password=hunter22".to_vec());
        let other = shared.clone();
        assert!(super::wiped(shared).is_none(), "a shared buffer cannot be overwritten");
        assert_eq!(&other[..], b"password=hunter22");
    }
}
