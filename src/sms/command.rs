//! What a text says, as a command: pure parsing, no I/O.
//!
//! Volunteers type on small keyboards in a hurry, so keywords are case-insensitive
//! and tolerant of extra spaces and a missing or present `#` (`Y 12`, `y #12`,
//! `Y12`). Carrier keywords (STOP, START, HELP and their synonyms) keep their
//! meaning for everyone and only match a whole message.

/// A volunteer's command, or a carrier keyword.
#[derive(PartialEq, Eq)]
pub enum Command {
    On,
    Off,
    Status,
    Help,
    /// `Y 12`: accept dispatch 12.
    Accept(i64),
    /// `N 12`: decline dispatch 12.
    Decline(i64),
    /// `AT 12`: on scene.
    AtScene(i64),
    /// `DONE 12`: leaving the scene.
    Done(i64),
    /// `NOTE 12 <text>`.
    Note(i64, String),
    /// `R 7 <text>`: reply to public intake thread 7.
    Reply(i64, String),
    /// `NEW <zone> <text>`.
    New {
        zone: String,
        text: String,
    },
    /// `OK 4821`: confirms the command that sent back this one-time code.
    Confirm(String),
    /// A carrier opt-out keyword.
    Stop,
    /// A carrier opt-in keyword.
    Start,
    /// A command word with what it needs missing, e.g. `NOTE 12` with no text.
    Incomplete(&'static str),
    Unknown,
}

// Deliberately no Debug: a Note or Reply carries text that must not reach a log.

/// The carrier's keywords: matched on the whole message, as carriers do.
pub fn carrier_keyword(body: &str) -> Option<Command> {
    let word = body.trim().trim_end_matches(['.', '!']).to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Command::Stop),
        "START" | "YES" | "UNSTOP" => Some(Command::Start),
        "HELP" | "INFO" => Some(Command::Help),
        _ => None,
    }
}

/// Parses a volunteer's text.
pub fn parse(body: &str) -> Command {
    if let Some(keyword) = carrier_keyword(body) {
        return keyword;
    }
    let text = body.trim();
    let split = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (word, rest) = text.split_at(split);
    let word = word.to_ascii_uppercase();
    match word.as_str() {
        "ON" if rest.trim().is_empty() => Command::On,
        "OFF" if rest.trim().is_empty() => Command::Off,
        "STATUS" if rest.trim().is_empty() => Command::Status,
        "Y" | "YES" => numbered(rest, Command::Accept, "Y <number>"),
        "N" | "NO" => numbered(rest, Command::Decline, "N <number>"),
        "AT" => numbered(rest, Command::AtScene, "AT <number>"),
        "DONE" => numbered(rest, Command::Done, "DONE <number>"),
        "NOTE" => with_text(rest, Command::Note, "NOTE <incident> <text>"),
        "R" => with_text(rest, Command::Reply, "R <thread> <text>"),
        "OK" => {
            let code = rest.trim();
            if code.len() == super::confirm::CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
                Command::Confirm(code.to_string())
            } else {
                Command::Incomplete("OK <the code we sent>")
            }
        }
        "NEW" => {
            let rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (zone, text) = rest.split_at(end);
            let text = text.trim();
            if zone.is_empty() || text.is_empty() {
                Command::Incomplete("NEW <zone> <location and what is happening>")
            } else {
                Command::New { zone: zone.to_string(), text: text.to_string() }
            }
        }
        _ => Command::Unknown,
    }
}

/// `12`, `#12`, `# 12` at the start of `rest`; returns the number and what follows.
fn number(rest: &str) -> Option<(i64, &str)> {
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('#').unwrap_or(rest).trim_start();
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    if end == 0 || end > 18 {
        return None;
    }
    Some((rest[..end].parse().ok()?, &rest[end..]))
}

fn numbered(rest: &str, make: fn(i64) -> Command, usage: &'static str) -> Command {
    match number(rest) {
        Some((n, tail)) if tail.trim().is_empty() => make(n),
        Some(_) => Command::Unknown,
        None => Command::Incomplete(usage),
    }
}

fn with_text(rest: &str, make: fn(i64, String) -> Command, usage: &'static str) -> Command {
    match number(rest) {
        // The text must be separated from the number: "NOTE 12abc" is a typo.
        Some((n, tail)) if tail.starts_with(char::is_whitespace) && !tail.trim().is_empty() => {
            make(n, tail.trim().to_string())
        }
        _ => Command::Incomplete(usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(c: &Command) -> String {
        match c {
            Command::On => "on".into(),
            Command::Off => "off".into(),
            Command::Status => "status".into(),
            Command::Help => "help".into(),
            Command::Accept(n) => format!("accept {n}"),
            Command::Decline(n) => format!("decline {n}"),
            Command::AtScene(n) => format!("at {n}"),
            Command::Done(n) => format!("done {n}"),
            Command::Note(n, t) => format!("note {n} [{t}]"),
            Command::Reply(n, t) => format!("reply {n} [{t}]"),
            Command::New { zone, text } => format!("new {zone} [{text}]"),
            Command::Confirm(code) => format!("confirm {code}"),
            Command::Stop => "stop".into(),
            Command::Start => "start".into(),
            Command::Incomplete(u) => format!("incomplete {u}"),
            Command::Unknown => "unknown".into(),
        }
    }

    #[test]
    fn tolerant_of_case_spaces_and_hash() {
        let cases = [
            ("ON", "on"),
            ("  off ", "off"),
            ("Status", "status"),
            ("Y 12", "accept 12"),
            ("y #12", "accept 12"),
            ("Y12", "accept 12"),
            ("y   # 12  ", "accept 12"),
            ("OK 4821", "confirm 4821"),
            ("ok  0007 ", "confirm 0007"),
            ("OK 48", "incomplete OK <the code we sent>"),
            ("n 3", "decline 3"),
            ("AT 12", "at 12"),
            ("done #12", "done 12"),
            ("NOTE 12 two vans, plates ABC123", "note 12 [two vans, plates ABC123]"),
            ("note #12   blue jackets  ", "note 12 [blue jackets]"),
            ("R 7 We are sending someone", "reply 7 [We are sending someone]"),
            ("r7 ok", "reply 7 [ok]"),
            ("NEW north 5th and Main, 3 cars", "new north [5th and Main, 3 cars]"),
            ("new  North   corner", "new North [corner]"),
            ("HELP", "help"),
            ("stop", "stop"),
            ("Unsubscribe", "stop"),
            ("START", "start"),
        ];
        for (input, expected) in cases {
            assert_eq!(describe(&parse(input)), expected, "{input:?}");
        }
    }

    #[test]
    fn missing_parts_and_noise_are_not_commands() {
        let cases = [
            ("Y", "incomplete Y <number>"),
            ("Y twelve", "incomplete Y <number>"),
            ("NOTE 12", "incomplete NOTE <incident> <text>"),
            ("NOTE", "incomplete NOTE <incident> <text>"),
            ("NOTE 12abc", "incomplete NOTE <incident> <text>"),
            ("R seven hi", "incomplete R <thread> <text>"),
            ("NEW north", "incomplete NEW <zone> <location and what is happening>"),
            ("Y 12 please", "unknown"),
            ("ONWARDS", "unknown"),
            ("on my way", "unknown"),
            ("", "unknown"),
            ("'; DROP TABLE incidents; --", "unknown"),
            ("<Response/>", "unknown"),
            ("Y 99999999999999999999999", "incomplete Y <number>"),
            ("ÿ 12", "unknown"),
            ("stop now", "unknown"),
        ];
        for (input, expected) in cases {
            assert_eq!(describe(&parse(input)), expected, "{input:?}");
        }
    }

    #[test]
    fn carrier_keywords_match_whole_messages_only() {
        assert!(carrier_keyword("STOP") == Some(Command::Stop));
        assert!(carrier_keyword(" quit. ") == Some(Command::Stop));
        assert!(carrier_keyword("yes") == Some(Command::Start));
        assert!(carrier_keyword("info") == Some(Command::Help));
        assert!(carrier_keyword("please stop them").is_none());
        assert!(carrier_keyword("help, they took my brother").is_none());
    }
}
