//! Languages the hotline speaks and volunteers speak, as BCP-47 primary codes.

use std::fmt;

/// A BCP-47 primary language subtag such as `en`, `es`, `ht` or `so`: two or three
/// lowercase ASCII letters. Regional variants (`es-US`) are for speech only and
/// are derived from this where a provider needs them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

impl Language {
    pub fn parse(input: &str) -> Result<Self, String> {
        let code = input.trim().to_ascii_lowercase();
        if (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Language(code))
        } else {
            Err(format!("{input:?} is not a language code (two or three letters, e.g. en, es, ht)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a comma-separated list such as `en,es`, refusing an empty list and
/// duplicates. Order is kept: the first language is the default one.
pub fn parse_list(input: &str) -> Result<Vec<Language>, String> {
    let mut out: Vec<Language> = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lang = Language::parse(part)?;
        if out.contains(&lang) {
            return Err(format!("language {lang} is listed twice"));
        }
        out.push(lang);
    }
    if out.is_empty() {
        return Err("at least one language is needed".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_lists() {
        assert_eq!(Language::parse("ES").unwrap().as_str(), "es");
        let list = parse_list("en, es ,ht").unwrap();
        assert_eq!(list.iter().map(Language::as_str).collect::<Vec<_>>(), ["en", "es", "ht"]);
    }

    #[test]
    fn refuses_bad_codes_empty_lists_and_duplicates() {
        for bad in ["e", "english", "e1", "es-US", ""] {
            assert!(Language::parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse_list(" , ").is_err());
        assert!(parse_list("en,es,en").is_err());
    }
}

/// What the hotline says, in one language. `{language}` in `whisper` is replaced by
/// the caller's language name, `{digit}` in `menu_option` by the key to press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    /// The BCP-47 tag for `<Say>`, e.g. `es-US` (a bare `es` is not enough).
    pub voice: String,
    /// The language's own name for itself, e.g. `español`.
    pub name: String,
    pub menu_option: String,
    pub hold: String,
    pub whisper: String,
    pub callback_whisper: String,
    pub taken: String,
    pub voicemail: String,
    pub callback_noted: String,
    pub goodbye: String,
    pub unavailable: String,
    /// What a caller with a withheld number hears first: `{digit}` is the key.
    pub challenge: String,
    /// SMS: the acknowledgement of a public text.
    pub sms_ack: String,
    /// SMS: safety guidance sent with the first acknowledgement of a thread.
    pub sms_safety: String,
    /// SMS: the answer to HELP from the public.
    pub sms_help: String,
    /// SMS: a sender over the text rate limit.
    pub sms_limit: String,
}

/// The text keys that can be overridden in the config as `[texts.<language>]`.
pub const SPEECH_KEYS: &[&str] = &[
    "voice",
    "name",
    "menu_option",
    "hold",
    "whisper",
    "taken",
    "voicemail",
    "callback_noted",
    "goodbye",
    "unavailable",
    "challenge",
    "callback_whisper",
    "sms_ack",
    "sms_safety",
    "sms_help",
    "sms_limit",
];

impl Speech {
    /// Built-in English and Spanish; any other language starts from English and
    /// is expected to be overridden in the config.
    pub fn builtin(lang: &Language) -> Speech {
        match lang.as_str() {
            "es" => Speech {
                voice: "es-US".into(),
                name: "español".into(),
                menu_option: "Para español, oprima {digit}.".into(),
                hold: "Gracias por llamar. Por favor no cuelgue; estamos buscando a alguien que le atienda.".into(),
                whisper: "Llamada de quietline, en {language}. Oprima 1 para tomarla.".into(),
                callback_whisper: "Devolución de llamada de quietline. Oprima 1 para conectar con la persona.".into(),
                taken: "Otra persona ya tomó esta llamada. Gracias.".into(),
                voicemail: "En este momento nadie puede contestar. Deje un mensaje después del tono. \
                            Si quiere que le devolvamos la llamada, oprima 1 ahora."
                    .into(),
                callback_noted: "Le devolveremos la llamada. Puede dejar un mensaje después del tono.".into(),
                goodbye: "Gracias. Adiós.".into(),
                unavailable: "No podemos atender su llamada en este momento. Por favor intente más tarde.".into(),
                challenge: "Para hablar con una persona voluntaria, oprima {digit}.".into(),
                sms_ack: "Recibimos su mensaje. Una persona voluntaria le responderá desde este número.".into(),
                sms_safety: "Por su seguridad: no se acerque a los agentes. Anote el lugar, la hora, cuántos \
                             agentes, uniformes y vehículos. Tiene derecho a guardar silencio. No envíe fotos de caras."
                    .into(),
                sms_help: "Línea de quietline: escriba qué pasa y dónde; le responderemos desde este número. \
                           Responda STOP para no recibir más mensajes. En una emergencia llame al 911."
                    .into(),
                sms_limit: "Recibimos muchos mensajes suyos; le responderemos pronto. Para hablar ahora, llame a \
                            este número."
                    .into(),
            },
            _ => Speech {
                voice: if lang.as_str() == "en" { "en-US".into() } else { lang.as_str().to_string() },
                name: if lang.as_str() == "en" { "English".into() } else { lang.as_str().to_string() },
                menu_option: "For English, press {digit}.".into(),
                hold: "Thank you for calling. Please stay on the line; we are finding someone to talk to you.".into(),
                whisper: "quietline call, in {language}. Press 1 to take it.".into(),
                callback_whisper: "quietline call back. Press 1 to connect to the caller.".into(),
                taken: "Someone else already took this call. Thank you.".into(),
                voicemail: "Nobody can answer right now. Please leave a message after the tone. \
                            To ask for a call back, press 1 now."
                    .into(),
                callback_noted: "We will call you back. You can leave a message after the tone.".into(),
                goodbye: "Thank you. Goodbye.".into(),
                unavailable: "We cannot take your call right now. Please try again later.".into(),
                challenge: "To reach a volunteer, press {digit}.".into(),
                sms_ack: "We received your message. A volunteer will reply from this number.".into(),
                sms_safety: "Stay safe: do not approach agents. Note the place, time, number of officers, \
                             uniforms and vehicles. You have the right to remain silent. Do not send photos of faces."
                    .into(),
                sms_help: "quietline hotline: text us what is happening and where; we reply from this number. \
                           Reply STOP to stop messages. In an emergency call 911."
                    .into(),
                sms_limit: "We received many messages from you and will reply soon. To talk now, call this number."
                    .into(),
            },
        }
    }

    /// Replaces one text by its key; false for an unknown key.
    pub fn set(&mut self, key: &str, value: String) -> bool {
        let slot = match key {
            "voice" => &mut self.voice,
            "name" => &mut self.name,
            "menu_option" => &mut self.menu_option,
            "hold" => &mut self.hold,
            "whisper" => &mut self.whisper,
            "callback_whisper" => &mut self.callback_whisper,
            "taken" => &mut self.taken,
            "voicemail" => &mut self.voicemail,
            "callback_noted" => &mut self.callback_noted,
            "goodbye" => &mut self.goodbye,
            "unavailable" => &mut self.unavailable,
            "challenge" => &mut self.challenge,
            "sms_ack" => &mut self.sms_ack,
            "sms_safety" => &mut self.sms_safety,
            "sms_help" => &mut self.sms_help,
            "sms_limit" => &mut self.sms_limit,
            _ => return false,
        };
        *slot = value;
        true
    }
}

#[cfg(test)]
mod speech_tests {
    use super::*;

    #[test]
    fn builtin_tags_are_full_bcp47() {
        assert_eq!(Speech::builtin(&Language::parse("es").unwrap()).voice, "es-US");
        assert_eq!(Speech::builtin(&Language::parse("en").unwrap()).voice, "en-US");
        for key in SPEECH_KEYS {
            assert!(Speech::builtin(&Language::parse("en").unwrap()).set(key, "x".into()), "{key}");
        }
    }
}
