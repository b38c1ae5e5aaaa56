//! The provider's own signing library (PyPI `twilio`, `RequestValidator`) as an
//! independent peer: it signs requests our server must accept, and validates the
//! signatures our stand-in (and so our verifier) computes.

use std::io::Write;
use std::process::{Command, Stdio};

use quietline::telephony::signature;

const PEER: &str = r#"
import json, sys
from twilio.request_validator import RequestValidator
data = json.load(sys.stdin)
v = RequestValidator(data["token"])
out = {
    "signed": [v.compute_signature(c["url"], c["params"]) for c in data["sign"]],
    "valid": [v.validate(c["url"], c["params"], c["sig"]) for c in data["check"]],
    "body_valid": [v.validate(c["url"], c["body"], c["sig"]) for c in data["body_check"]],
}
print(json.dumps(out))
"#;

/// The Python with the provider's library: the virtualenv `scripts/test` makes
/// in `target/peers`, or else whatever `python3` is on the PATH.
fn python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/bin/python3");
    if venv.exists() { venv } else { "python3".into() }
}

fn peer(input: serde_json::Value) -> serde_json::Value {
    let mut child = Command::new(python())
        .args(["-c", PEER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the provider's signing library is missing: run scripts/test once (it installs it into \
         target/peers), or pip install 'twilio>=9,<10': {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pairs(p: &serde_json::Value) -> Vec<(String, String)> {
    p.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

#[test]
fn the_providers_library_and_ours_agree_on_signatures() {
    let token = "12345";
    let cases = serde_json::json!([
        { "url": "https://mycompany.com/myapp.php?foo=1&bar=2",
          "params": { "CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                      "From": "+14158675309", "To": "+18005551212" } },
        { "url": "https://hotline.example.org/telephony/voice/language?call=12&attempt=2",
          "params": { "CallSid": "CAabc", "Digits": "2", "From": "+525512345678", "FromCity": "CIUDAD DE MÉXICO" } },
        { "url": "http://127.0.0.1:8080/telephony/status",
          "params": { "CallSid": "CAdef", "CallStatus": "no-answer", "Body": "a & b < c \"quoted\" ✓" } },
        { "url": "https://hotline.example.org/telephony/recording?call=3", "params": {} }
    ]);
    // The peer signs; we verify. We sign; the peer validates.
    let checks: Vec<serde_json::Value> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let sig = signature::sign(token.as_bytes(), c["url"].as_str().unwrap(), &pairs(&c["params"]));
            serde_json::json!({ "url": c["url"], "params": c["params"], "sig": sig })
        })
        .chain(std::iter::once(serde_json::json!({
            // A signature for other parameters must not validate.
            "url": cases[0]["url"], "params": { "CallSid": "CAother" }, "sig": "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        })))
        .collect();
    let body = r#"{"property": "value", "boolean": true}"#;
    let body_url =
        "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let body_sig = signature::sign(token.as_bytes(), body_url, &[]);
    let out = peer(serde_json::json!({
        "token": token,
        "sign": cases,
        "check": checks,
        "body_check": [{ "url": body_url, "body": body, "sig": body_sig }],
    }));
    for (case, sig) in cases.as_array().unwrap().iter().zip(out["signed"].as_array().unwrap()) {
        let url = case["url"].as_str().unwrap();
        let sig = sig.as_str().unwrap();
        assert!(signature::verify_form(token.as_bytes(), url, &pairs(&case["params"]), sig), "{url}: {sig}");
    }
    assert_eq!(out["signed"][0], "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "the published vector");
    assert_eq!(out["valid"], serde_json::json!([true, true, true, true, false]));
    assert_eq!(out["body_valid"], serde_json::json!([true]));
    assert!(signature::verify_body(token.as_bytes(), body_url, body.as_bytes(), &body_sig));
}
