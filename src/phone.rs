//! Phone numbers in E.164 form, validated once where they enter the system.
//!
//! A `PhoneNumber` never prints its digits through `Debug` or `Display`: logs and
//! error messages can carry one by accident only if someone calls `as_str`.

use std::fmt;

/// A phone number in E.164 form: `+`, a country code, at most 15 digits in all.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPhoneNumber(&'static str);

impl fmt::Display for InvalidPhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a phone number in E.164 form (+ and country code, e.g. +14155550100): {}", self.0)
    }
}

impl std::error::Error for InvalidPhoneNumber {}

impl PhoneNumber {
    /// Parses an international number (`+` and country code; spaces, dots, dashes,
    /// brackets and a national trunk prefix such as UK `(0)` are tolerated) with
    /// libphonenumber's metadata, refuses numbers that cannot exist, and keeps the
    /// E.164 form. This is the one place numbers are normalized, so equal numbers
    /// compare (and hash) equal everywhere else.
    pub fn parse(input: &str) -> Result<Self, InvalidPhoneNumber> {
        let trimmed = input.trim();
        if !trimmed.starts_with('+') {
            return Err(InvalidPhoneNumber("it must start with + and the country code"));
        }
        // libphonenumber reads letters as keypad digits (1-800-FLOWERS); on a roster
        // or a caller ID a letter is a typo or garbage.
        if !trimmed[1..].chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')')) {
            return Err(InvalidPhoneNumber("it may hold only digits after the +"));
        }
        let parsed =
            phonenumber::parse(None, trimmed).map_err(|_| InvalidPhoneNumber("it cannot be read as a number"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(InvalidPhoneNumber("no such number exists in that country's numbering plan"));
        }
        Ok(PhoneNumber(parsed.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The full number, for dialing and for the store. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last two digits only, enough for an operator to tell two entries apart.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 2..];
        format!("…{tail}")
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_and_common_separators() {
        assert_eq!(PhoneNumber::parse("+14155550100").unwrap().as_str(), "+14155550100");
        assert_eq!(PhoneNumber::parse(" +1 (415) 555-0100 ").unwrap().as_str(), "+14155550100");
        assert_eq!(PhoneNumber::parse("+52.55.1234.5678").unwrap().as_str(), "+525512345678");
    }

    #[test]
    fn refuses_what_is_not_e164() {
        for bad in ["4155550100", "+", "+0123456789", "+1415555010a", "+1234", "+1234567890123456", "", "++14155550100"]
        {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn debug_and_masked_hide_the_number() {
        let n = PhoneNumber::parse("+14155550199").unwrap();
        assert!(!format!("{n:?}").contains("555"));
        assert_eq!(n.masked(), "…99");
    }
}
