//! TwiML: the provider's markup for what a call hears and a text is answered,
//! rendered from [`flow`](crate::flow)'s steps with every text and attribute
//! escaped. Served as `text/xml`.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::flow::{Callback, Step, Texts, Voice};

/// A rendered TwiML document.
pub struct Twiml(String);

impl Twiml {
    /// What a call hears next; callback URLs are absolute on `base`.
    pub fn voice(voice: &Voice, base: &str) -> Twiml {
        let mut out = String::from(HEAD);
        for step in &voice.0 {
            render_step(step, base, &mut out);
        }
        out.push_str("</Response>");
        Twiml(out)
    }

    /// The texts a sender is answered with, each reporting its status to us.
    pub fn texts(texts: &Texts, base: &str) -> Twiml {
        let mut out = String::from(HEAD);
        let action = url(base, Callback::TextStatus);
        for text in &texts.0 {
            out.push_str(&format!(r#"<Message action="{}" method="POST">{}</Message>"#, escape(&action), escape(text)));
        }
        out.push_str("</Response>");
        Twiml(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "text/xml; charset=utf-8")], self.0).into_response()
    }
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#;

fn url(base: &str, callback: Callback) -> String {
    format!("{base}{}", callback.path())
}

fn render_step(step: &Step, base: &str, out: &mut String) {
    match step {
        Step::Say { voice, text } => {
            out.push_str(&format!(r#"<Say language="{}">{}</Say>"#, escape(voice), escape(text)));
        }
        Step::Pause { seconds } => out.push_str(&format!(r#"<Pause length="{seconds}"/>"#)),
        Step::Gather { then, digits, timeout, prompts } => {
            out.push_str(&format!(
                r#"<Gather input="dtmf" numDigits="{digits}" timeout="{timeout}" action="{}" method="POST">"#,
                escape(&url(base, *then))
            ));
            for p in prompts {
                render_step(p, base, out);
            }
            out.push_str("</Gather>");
        }
        Step::Leave => out.push_str("<Leave/>"),
        // <Dial> with several <Number>s rings them all at once; the first to
        // pick up has the others hung up, and its <Number>'s `url` runs on its
        // leg before it is connected: ending in <Hangup> there connects nobody
        // (twilio.com/docs/voice/twiml/number).
        Step::Ring { numbers, caller_id, timeout, then } => {
            out.push_str(&format!(
                r#"<Dial callerId="{}" timeout="{timeout}" action="{}" method="POST">"#,
                escape(caller_id),
                escape(&url(base, *then))
            ));
            for n in numbers {
                out.push_str(&format!(
                    r#"<Number url="{}" method="POST" statusCallback="{}" statusCallbackMethod="POST">{}</Number>"#,
                    escape(&url(base, n.answered)),
                    escape(&url(base, n.status)),
                    escape(&n.number)
                ));
            }
            out.push_str("</Dial>");
        }
        Step::Dial { number, caller_id, timeout, then } => out.push_str(&format!(
            r#"<Dial callerId="{}" timeout="{timeout}" action="{}" method="POST"><Number>{}</Number></Dial>"#,
            escape(caller_id),
            escape(&url(base, *then)),
            escape(number)
        )),
        Step::Record { then, max_length, ready } => out.push_str(&format!(
            r#"<Record action="{}" method="POST" maxLength="{max_length}" playBeep="true" transcribe="false" recordingStatusCallback="{}" recordingStatusCallbackMethod="POST"/>"#,
            escape(&url(base, *then)),
            escape(&url(base, *ready))
        )),
        Step::Redirect { to } => {
            out.push_str(&format!(r#"<Redirect method="POST">{}</Redirect>"#, escape(&url(base, *to))))
        }
        Step::Hangup => out.push_str("<Hangup/>"),
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
        let voice = Voice::new()
            .say("es-US", "Para español oprima 2 & <espere>")
            .then(Step::Gather {
                then: Callback::Language { call: 1, attempt: 2 },
                digits: 1,
                timeout: 5,
                prompts: vec![Step::Say { voice: "en-US".into(), text: "it's \"quoted\"".into() }],
            })
            .hangup();
        assert_eq!(
            Twiml::voice(&voice, "https://h.org").as_str(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Say language="es-US">Para español oprima 2 &amp; &lt;espere&gt;</Say>"#,
                r#"<Gather input="dtmf" numDigits="1" timeout="5" action="https://h.org/telephony/voice/language?call=1&amp;attempt=2" method="POST">"#,
                r#"<Say language="en-US">it&apos;s &quot;quoted&quot;</Say></Gather><Hangup/></Response>"#
            )
        );
    }

    #[test]
    fn a_ring_dials_every_number_with_its_screen() {
        let n = |number: &str, volunteer| crate::flow::Ringing {
            number: number.into(),
            answered: Callback::VolunteerAnswered { call: 5, volunteer, tier: 0, attempt: 0 },
            status: Callback::LegStatus { call: 5, volunteer, tier: 0, attempt: 0 },
        };
        let voice = Voice::new().then(Step::Ring {
            numbers: vec![n("+14155550101", 1), n("+14155550102", 2)],
            caller_id: "+14155550000".into(),
            timeout: 30,
            then: Callback::RingEnded { call: 5, tier: 0 },
        });
        let doc = Twiml::voice(&voice, "https://h.org");
        assert!(doc.as_str().contains(concat!(
            r#"<Dial callerId="+14155550000" timeout="30" action="https://h.org/telephony/voice/ring-end?call=5&amp;tier=0" method="POST">"#,
            r#"<Number url="https://h.org/telephony/voice/volunteer?call=5&amp;volunteer=1&amp;tier=0&amp;attempt=0" method="POST" "#,
            r#"statusCallback="https://h.org/telephony/status?call=5&amp;volunteer=1&amp;tier=0&amp;attempt=0" statusCallbackMethod="POST">+14155550101</Number>"#,
        )));
        assert_eq!(doc.as_str().matches("<Number ").count(), 2);
    }

    #[test]
    fn texts_report_their_status() {
        let doc = Twiml::texts(&Texts::one("Got it & thanks"), "https://h.org");
        assert_eq!(
            doc.as_str(),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Message action="https://h.org/telephony/sms/status" method="POST">Got it &amp; thanks</Message>"#,
                "</Response>"
            )
        );
        assert_eq!(Twiml::texts(&Texts::none(), "").as_str(), format!("{HEAD}</Response>"));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{7}c\nd"), "abc\nd");
    }
}
