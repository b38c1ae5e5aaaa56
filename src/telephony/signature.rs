//! The provider's webhook signature (`X-Twilio-Signature`), as its own reference
//! library computes it:
//!
//! - data = the full URL called (scheme, host, path, query as sent), then for each
//!   POST parameter name in sorted order, each of its values in sorted order:
//!   name followed by value;
//! - signature = base64(HMAC-SHA1(auth token, data)), compared in constant time;
//! - the URL is tried as given, without its default port and with it, because the
//!   provider is not consistent about `:443`;
//! - a JSON body is signed through its hash instead: the URL carries
//!   `bodySHA256=<hex sha256 of the body>`, which must match, and the URL alone is
//!   signed, with no parameters.
//!
//! Written here rather than taken from crates.io: the crates there drop the query
//! string, hard-code https, or compare in variable time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

fn mac_over(auth_token: &[u8], url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac = HmacSha1::new_from_slice(auth_token).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature the provider would send for a form POST to `url` with `params`.
pub fn sign(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(mac_over(auth_token, url, params).finalize().into_bytes())
}

/// Checks a form-encoded webhook.
pub fn verify_form(auth_token: &[u8], url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(given) = BASE64.decode(signature.trim()) else {
        return false;
    };
    url_variants(url).iter().any(|candidate| mac_over(auth_token, candidate, params).verify_slice(&given).is_ok())
}

/// Checks a webhook with a JSON (or other raw) body signed through `bodySHA256`.
pub fn verify_body(auth_token: &[u8], url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected_hash) = query_param(url, "bodySHA256") else {
        return false;
    };
    let actual = crate::vault::hex(&Sha256::digest(body));
    // Both are public hashes of what was sent; equal length hex, compared whole.
    let hash_ok = constant_time_eq(actual.as_bytes(), expected_hash.to_ascii_lowercase().as_bytes());
    hash_ok && verify_form(auth_token, url, &[], signature)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The URL as given, with its default port removed, and with it added.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // An IPv6 literal's colons are not a port separator.
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') && p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (hostport, None),
    };
    match port {
        Some(p) if p == default_port => out.push(format!("{scheme}://{userinfo}{host}{tail}")),
        Some(_) => {}
        None => out.push(format!("{scheme}://{userinfo}{host}:{default_port}{tail}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// The provider library's published vectors.
    #[test]
    fn published_vectors() {
        assert_eq!(sign(b"12345", URL, &params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            sign(b"12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            crate::vault::hex(&Sha256::digest(br#"{"property": "value", "boolean": true}"#)),
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
    }

    #[test]
    fn accepts_with_and_without_the_default_port() {
        assert!(verify_form(b"12345", URL, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(verify_form(b"12345", URL, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w="));
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(verify_form(b"12345", with_port, &params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn refuses_what_does_not_match() {
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(!verify_form(b"54321", URL, &params(), sig), "wrong token");
        assert!(!verify_form(b"12345", "https://mycompany.com/myapp.php?foo=1&bar=3", &params(), sig), "query");
        let mut p = params();
        p[2].1 = "1235".into();
        assert!(!verify_form(b"12345", URL, &p, sig), "changed parameter");
        assert!(!verify_form(b"12345", URL, &params(), ""), "missing");
        assert!(!verify_form(b"12345", URL, &params(), "not base64!"), "garbage");
        assert!(!verify_form(b"12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &params(), sig), "scheme");
    }

    #[test]
    fn repeated_parameters_sort_by_value_too() {
        let a = vec![("A".to_string(), "2".to_string()), ("A".to_string(), "1".to_string())];
        let b = vec![("A".to_string(), "1".to_string()), ("A".to_string(), "2".to_string())];
        assert_eq!(sign(b"k", "https://x.org/", &a), sign(b"k", "https://x.org/", &b));
    }

    #[test]
    fn json_bodies_are_checked_through_their_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let sig = sign(b"12345", url, &[]);
        assert!(verify_body(b"12345", url, body, &sig));
        assert!(!verify_body(b"12345", url, br#"{"property": "other", "boolean": true}"#, &sig));
        assert!(!verify_body(b"12345", "https://mycompany.com/myapp.php", body, &sig));
    }

    #[test]
    fn port_variants() {
        assert_eq!(url_variants("https://a.org/x"), ["https://a.org/x".to_string(), "https://a.org:443/x".to_string()]);
        assert_eq!(
            url_variants("http://a.org:80?q=1"),
            ["http://a.org:80?q=1".to_string(), "http://a.org?q=1".to_string()]
        );
        assert_eq!(url_variants("http://127.0.0.1:8080/x"), ["http://127.0.0.1:8080/x".to_string()]);
    }
}
