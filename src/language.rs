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
