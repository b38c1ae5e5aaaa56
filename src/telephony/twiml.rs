//! TwiML responses: a small list of the verbs a hotline needs, rendered with every
//! text and attribute escaped. Served as `text/xml`.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// Speak `text` in `language`, a full BCP-47 tag such as `es-US`.
    Say {
        language: String,
        text: String,
    },
    Pause {
        seconds: u32,
    },
    /// Collect digits, speaking `prompts` meanwhile; the digits go to `action`.
    Gather {
        action: String,
        num_digits: u32,
        timeout: u32,
        prompts: Vec<Verb>,
    },
    /// Hold the caller in the named queue; `wait_url` is played while they wait,
    /// `action` is called when they leave it.
    Enqueue {
        name: String,
        wait_url: String,
        action: String,
    },
    /// Leave the queue (in a wait URL's response).
    Leave,
    /// Bridge to the first caller waiting in the named queue.
    DialQueue {
        name: String,
    },
    /// Call a number, showing `caller_id`.
    DialNumber {
        number: String,
        caller_id: String,
        timeout: u32,
        action: String,
    },
    Record {
        action: String,
        max_length: u32,
        recording_status_callback: String,
    },
    Redirect {
        url: String,
    },
    /// A text back to the sender; `action` hears the new message's id and status.
    Message {
        text: String,
        action: String,
    },
    Hangup,
}

/// A TwiML document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Twiml(pub Vec<Verb>);

impl Twiml {
    pub fn new() -> Twiml {
        Twiml(Vec::new())
    }

    pub fn push(mut self, verb: Verb) -> Twiml {
        self.0.push(verb);
        self
    }

    pub fn say(self, language: &str, text: &str) -> Twiml {
        self.push(Verb::Say { language: language.to_string(), text: text.to_string() })
    }

    pub fn hangup(self) -> Twiml {
        self.push(Verb::Hangup)
    }

    pub fn render(&self) -> String {
        let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
        for verb in &self.0 {
            render_verb(verb, &mut out);
        }
        out.push_str("</Response>");
        out
    }
}

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "text/xml; charset=utf-8")], self.render()).into_response()
    }
}

fn render_verb(verb: &Verb, out: &mut String) {
    match verb {
        Verb::Say { language, text } => {
            out.push_str(&format!(r#"<Say language="{}">{}</Say>"#, escape(language), escape(text)));
        }
        Verb::Pause { seconds } => out.push_str(&format!(r#"<Pause length="{seconds}"/>"#)),
        Verb::Gather { action, num_digits, timeout, prompts } => {
            out.push_str(&format!(
                r#"<Gather input="dtmf" numDigits="{num_digits}" timeout="{timeout}" action="{}" method="POST">"#,
                escape(action)
            ));
            for p in prompts {
                render_verb(p, out);
            }
            out.push_str("</Gather>");
        }
        Verb::Enqueue { name, wait_url, action } => out.push_str(&format!(
            r#"<Enqueue waitUrl="{}" waitUrlMethod="POST" action="{}" method="POST">{}</Enqueue>"#,
            escape(wait_url),
            escape(action),
            escape(name)
        )),
        Verb::Leave => out.push_str("<Leave/>"),
        Verb::DialQueue { name } => out.push_str(&format!("<Dial><Queue>{}</Queue></Dial>", escape(name))),
        Verb::DialNumber { number, caller_id, timeout, action } => out.push_str(&format!(
            r#"<Dial callerId="{}" timeout="{timeout}" action="{}" method="POST"><Number>{}</Number></Dial>"#,
            escape(caller_id),
            escape(action),
            escape(number)
        )),
        Verb::Record { action, max_length, recording_status_callback } => out.push_str(&format!(
            r#"<Record action="{}" method="POST" maxLength="{max_length}" playBeep="true" transcribe="false" recordingStatusCallback="{}" recordingStatusCallbackMethod="POST"/>"#,
            escape(action),
            escape(recording_status_callback)
        )),
        Verb::Redirect { url } => out.push_str(&format!(r#"<Redirect method="POST">{}</Redirect>"#, escape(url))),
        Verb::Message { text, action } => out.push_str(&format!(
            r#"<Message action="{}" method="POST">{}</Message>"#,
            escape(action),
            escape(text)
        )),
        Verb::Hangup => out.push_str("<Hangup/>"),
    }
}

/// Escapes `& < > " '` and drops characters XML 1.0 cannot carry at all.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let doc = Twiml::new()
            .say("es-US", "Para español oprima 2 & <espere>")
            .push(Verb::Gather {
                action: "https://h.org/a?x=1&y=2".into(),
                num_digits: 1,
                timeout: 5,
                prompts: vec![Verb::Say { language: "en-US".into(), text: "it's \"quoted\"".into() }],
            })
            .hangup();
        assert_eq!(
            doc.render(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Say language="es-US">Para español oprima 2 &amp; &lt;espere&gt;</Say>"#,
                r#"<Gather input="dtmf" numDigits="1" timeout="5" action="https://h.org/a?x=1&amp;y=2" method="POST">"#,
                r#"<Say language="en-US">it&apos;s &quot;quoted&quot;</Say></Gather><Hangup/></Response>"#
            )
        );
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{7}c\nd"), "abc\nd");
    }
}
