//! TwiML as the stand-in reads it: the library's reader, with failures as panics.

pub use quietline::telephony::read::Node;

/// Parses and checks a TwiML document against the documented verbs.
pub fn parse(xml: &str) -> Node {
    quietline::telephony::read::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"))
}

/// A voice response must end in something that continues or hangs up.
pub fn assert_never_silent(doc: &Node, xml: &str) {
    assert!(!quietline::telephony::read::ends_in_silence(doc), "this response leaves the caller in silence: {xml}");
}
