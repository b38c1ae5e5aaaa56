//! Reading TwiML the way the provider does: an XML parser, and a check of every
//! verb and attribute against the ones the provider documents. Used by
//! `quietline simulate` and by the tests' provider stand-in.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

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

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Verbs the provider documents, with their attributes and what they may hold.
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

/// Parses a TwiML document and checks it against the documented verbs.
pub fn parse(xml: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Decl(_)) | Ok(Event::Comment(_)) => {}
            Ok(Event::Start(e)) => stack.push(node_from(&e)?),
            Ok(Event::Empty(e)) => {
                let node = node_from(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Ok(Event::Text(t)) => {
                let text = t.decode().map_err(|e| format!("bad text: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().map_err(|e| format!("bad entity: {e}"))?;
                let c = match &*name {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => return Err(format!("unknown entity &{other};")),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(c);
                }
            }
            Ok(Event::End(_)) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Ok(Event::Eof) => break,
            Ok(other) => return Err(format!("unexpected XML {other:?}")),
            Err(e) => return Err(format!("not well-formed XML: {e}")),
        }
    }
    let root = root.ok_or("empty document")?;
    if root.name != "Response" {
        return Err(format!("the root is <{}>, not <Response>", root.name));
    }
    check(&root)?;
    Ok(root)
}

fn node_from(e: &BytesStart<'_>) -> Result<Node, String> {
    let name = String::from_utf8(e.name().as_ref().to_vec()).map_err(|_| "non-UTF-8 name")?;
    let mut attrs = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute: {err}"))?;
        let key = String::from_utf8(a.key.as_ref().to_vec()).map_err(|_| "non-UTF-8 attribute")?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .map_err(|err| format!("bad attribute value: {err}"))?
            .to_string();
        attrs.insert(key, value);
    }
    Ok(Node { name, attrs, text: String::new(), children: Vec::new() })
}

fn check(node: &Node) -> Result<(), String> {
    let (attrs, children) = documented(&node.name).ok_or_else(|| format!("undocumented verb <{}>", node.name))?;
    for a in node.attrs.keys() {
        if !attrs.contains(&a.as_str()) {
            return Err(format!("undocumented attribute {a} on <{}>", node.name));
        }
    }
    for c in &node.children {
        if !children.contains(&c.name.as_str()) {
            return Err(format!("<{}> may not hold <{}>", node.name, c.name));
        }
        check(c)?;
    }
    if node.name == "Say" && !node.attr("language").is_some_and(|l| l.contains('-')) {
        return Err("<Say> needs a full BCP-47 language tag such as es-US".into());
    }
    for url_attr in ["action", "waitUrl", "recordingStatusCallback"] {
        if let Some(u) = node.attr(url_attr)
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!("{url_attr} on <{}> is not an absolute URL", node.name));
        }
    }
    Ok(())
}

/// True when a voice response ends in nothing that continues or hangs up, which
/// would leave the caller in silence until the provider drops them. A wait-URL
/// answer (`<Say>` then `<Pause>`) is played in a loop and counts as continuing.
pub fn ends_in_silence(doc: &Node) -> bool {
    !doc.children.last().is_some_and(|last| {
        matches!(last.name.as_str(), "Hangup" | "Redirect" | "Enqueue" | "Leave" | "Record" | "Dial" | "Pause")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Callback, Step, Voice};
    use crate::telephony::twiml::Twiml;

    #[test]
    fn our_twiml_reads_back_and_checks() {
        let then = Callback::Language { call: 1, attempt: 2 };
        let voice = Voice::new()
            .then(Step::Gather {
                then,
                digits: 1,
                timeout: 5,
                prompts: vec![Step::Say { voice: "es-US".into(), text: "Oprima 2 & <espere>".into() }],
            })
            .then(Step::Redirect { to: then });
        let xml = Twiml::voice(&voice, "https://h.org").as_str().to_string();
        let doc = parse(&xml).unwrap();
        let gather = doc.child("Gather").unwrap();
        let url = "https://h.org/telephony/voice/language?call=1&attempt=2";
        assert_eq!(gather.attr("action"), Some(url));
        assert_eq!(gather.child("Say").unwrap().text, "Oprima 2 & <espere>");
        assert_eq!(doc.child("Redirect").unwrap().text, url);
        assert!(!ends_in_silence(&doc));
    }

    #[test]
    fn undocumented_or_silent_twiml_is_caught() {
        let r = r#"<?xml version="1.0"?><Response>"#;
        assert!(parse(&format!("{r}<Speak>hi</Speak></Response>")).is_err());
        assert!(parse(&format!(r#"{r}<Say lang="en-US">hi</Say></Response>"#)).is_err());
        assert!(parse(&format!(r#"{r}<Say language="es">hola</Say></Response>"#)).is_err(), "bare es");
        assert!(parse(&format!(r#"{r}<Gather action="/relative"/></Response>"#)).is_err());
        assert!(parse(&format!("{r}<Say>unclosed</Response>")).is_err());
        let silent = parse(&format!(r#"{r}<Say language="en-US">bye</Say></Response>"#)).unwrap();
        assert!(ends_in_silence(&silent));
    }
}
