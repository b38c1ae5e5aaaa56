//! Reading TwiML the way the provider does: a real XML parser, and a check of
//! every verb and attribute against the ones the provider documents.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;

#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub attrs: HashMap<String, String>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Verbs the provider documents for voice and messaging, with their attributes
/// and the nouns or verbs they may contain.
fn documented(name: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match name {
        "Response" => (
            &[],
            &[
                "Say", "Pause", "Gather", "Enqueue", "Leave", "Dial", "Record", "Redirect", "Hangup", "Message",
                "Play", "Reject",
            ],
        ),
        "Say" => (&["language", "voice", "loop"], &[]),
        "Play" => (&["loop", "digits"], &[]),
        "Pause" => (&["length"], &[]),
        "Gather" => (
            &[
                "input",
                "numDigits",
                "timeout",
                "action",
                "method",
                "finishOnKey",
                "language",
                "speechTimeout",
                "actionOnEmptyResult",
            ],
            &["Say", "Pause", "Play"],
        ),
        "Enqueue" => (&["action", "method", "waitUrl", "waitUrlMethod", "workflowSid", "maxQueueSize"], &[]),
        "Leave" | "Hangup" => (&[], &[]),
        "Dial" => (
            &[
                "action",
                "method",
                "timeout",
                "callerId",
                "record",
                "hangupOnStar",
                "timeLimit",
                "answerOnBridge",
                "ringTone",
            ],
            &["Number", "Queue", "Client", "Conference", "Sip"],
        ),
        "Number" => {
            (&["sendDigits", "url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod"], &[])
        }
        "Queue" => (&["url", "method", "reservationSid", "postWorkActivitySid"], &[]),
        "Record" => (
            &[
                "action",
                "method",
                "timeout",
                "finishOnKey",
                "maxLength",
                "playBeep",
                "trim",
                "recordingStatusCallback",
                "recordingStatusCallbackMethod",
                "recordingStatusCallbackEvent",
                "transcribe",
                "transcribeCallback",
            ],
            &[],
        ),
        "Redirect" => (&["method"], &[]),
        "Message" => (&["to", "from", "action", "method", "statusCallback"], &["Body", "Media"]),
        "Reject" => (&["reason"], &[]),
        _ => return None,
    })
}

/// Parses a TwiML document and checks it against the documented verbs; panics
/// with the document on any violation.
pub fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Decl(_)) | Ok(Event::Comment(_)) => {}
            Ok(Event::Start(e)) => stack.push(node_from(&e, xml)),
            Ok(Event::Empty(e)) => {
                let node = node_from(&e, xml);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().unwrap_or_else(|e| panic!("bad text in {xml}: {e}")));
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().unwrap().to_string();
                let c = match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unknown entity &{other}; in {xml}"),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(c);
                }
            }
            Ok(Event::End(_)) => {
                let node = stack.pop().expect("balanced");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Ok(Event::Eof) => break,
            Ok(other) => panic!("unexpected XML {other:?} in {xml}"),
            Err(e) => panic!("not well-formed XML ({e}): {xml}"),
        }
    }
    let root = root.unwrap_or_else(|| panic!("empty document: {xml}"));
    assert_eq!(root.name, "Response", "{xml}");
    check(&root, xml);
    root
}

fn node_from(e: &quick_xml::events::BytesStart<'_>, xml: &str) -> Node {
    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
    let mut attrs = HashMap::new();
    for a in e.attributes() {
        let a = a.unwrap_or_else(|err| panic!("bad attribute ({err}) in {xml}"));
        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .unwrap_or_else(|err| panic!("bad attribute value ({err}) in {xml}"))
            .to_string();
        attrs.insert(key, value);
    }
    Node { name, attrs, text: String::new(), children: Vec::new() }
}

fn check(node: &Node, xml: &str) {
    let (attrs, children) =
        documented(&node.name).unwrap_or_else(|| panic!("undocumented verb <{}> in {xml}", node.name));
    for a in node.attrs.keys() {
        assert!(attrs.contains(&a.as_str()), "undocumented attribute {a} on <{}> in {xml}", node.name);
    }
    for c in &node.children {
        assert!(children.contains(&c.name.as_str()), "<{}> may not hold <{}> in {xml}", node.name, c.name);
        check(c, xml);
    }
    if node.name == "Say" {
        let lang = node.attr("language").unwrap_or("");
        assert!(lang.contains('-'), "<Say> needs a full BCP-47 tag like es-US, got {lang:?} in {xml}");
    }
    for url_attr in ["action", "waitUrl", "recordingStatusCallback"] {
        if let Some(u) = node.attr(url_attr) {
            assert!(u.starts_with("http://") || u.starts_with("https://"), "{url_attr} must be absolute in {xml}");
        }
    }
}

/// A voice response must end in something that continues or hangs up: never in
/// silence that leaves the provider to drop the caller.
pub fn assert_never_silent(doc: &Node, xml: &str) {
    let last = doc.children.last().unwrap_or_else(|| panic!("empty response: {xml}"));
    assert!(
        matches!(last.name.as_str(), "Hangup" | "Redirect" | "Enqueue" | "Leave" | "Record" | "Dial" | "Pause"),
        "response ends in <{}>, which leaves the caller in silence: {xml}",
        last.name
    );
}
