//! The injectable clock. Every expiry decision reads time from here, so tests move
//! time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the only time format stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    pub fn plus(self, d: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
    }

    /// Rounded down to the hour: the precision at which event times are kept.
    pub fn hour(self) -> UnixTime {
        UnixTime(self.0 - self.0.rem_euclid(3600))
    }

    /// `YYYY-MM-DD HH:MM UTC`, for messages to people.
    pub fn display_utc(self) -> String {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60)
    }
}

/// A lifetime in words for people: `30 days`, `1 day`, `36 hours`, `90 minutes`.
pub fn in_words(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 86_400 && s.is_multiple_of(86_400) {
        (s / 86_400, "day")
    } else if s >= 3600 && s.is_multiple_of(3600) {
        (s / 3600, "hour")
    } else if s >= 60 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, or with `hour_only` `YYYY-MM-DDTHH:00:00Z`: the
/// log's timestamps (see `logging`).
pub fn rfc3339(at: SystemTime, hour_only: bool) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    if hour_only {
        return format!("{y:04}-{m:02}-{d:02}T{:02}:00:00Z", of_day / 3600);
    }
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        (of_day % 3600) / 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The system clock, or a manual one that tests set and advance.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `start` until advanced.
    pub fn manual(start: UnixTime) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(start.0))) }
    }

    pub fn now(&self) -> UnixTime {
        match &self.manual {
            Some(t) => UnixTime(t.load(Ordering::SeqCst)),
            None => UnixTime(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)),
        }
    }

    /// Moves a manual clock forward. Panics on the system clock: only tests do this.
    pub fn advance(&self, by: Duration) {
        let t = self.manual.as_ref().expect("only a manual clock can be advanced");
        t.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_words() {
        let words = |s| in_words(Duration::from_secs(s));
        assert_eq!(words(30 * 86_400), "30 days");
        assert_eq!(words(86_400), "1 day");
        assert_eq!(words(36 * 3600), "36 hours");
        assert_eq!(words(90 * 60), "90 minutes");
        assert_eq!(words(61), "61 seconds");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(UnixTime(1_000));
        assert_eq!(c.now(), UnixTime(1_000));
        c.advance(Duration::from_secs(3_600));
        assert_eq!(c.now(), UnixTime(4_600));
        assert_eq!(c.clone().now(), UnixTime(4_600), "clones share the time");
    }

    #[test]
    fn hours_and_dates() {
        assert_eq!(UnixTime(7_199).hour(), UnixTime(3_600));
        assert_eq!(UnixTime(0).display_utc(), "1970-01-01 00:00 UTC");
        assert_eq!(UnixTime(1_795_478_400).display_utc(), "2026-11-24 00:00 UTC");
        assert_eq!(UnixTime(951_782_400 + 3_661).display_utc(), "2000-02-29 01:01 UTC");
    }
}
