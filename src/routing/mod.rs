//! Routing: who to ring for a call. Pure functions over the roster; no I/O.
//!
//! Tiers, rung one after the other until someone presses 1:
//! 1. on-shift dispatchers who speak the caller's language;
//! 2. on-shift dispatchers flagged for overflow (whatever their languages) and
//!    on-shift coordinators.
//!
//! Nobody already on (or being rung for) a hotline call is rung, nor anyone rung
//! for this call before.

use std::collections::HashSet;

use crate::language::Language;
use crate::roster::{Role, Volunteer};

/// How many tiers there are.
pub const TIERS: u32 = 2;

/// The volunteers to ring in `tier` (0-based), at most `max`, in roster order.
pub fn tier<'a>(
    roster: &'a [Volunteer],
    tier: u32,
    language: &Language,
    busy: &HashSet<i64>,
    already_rung: &HashSet<i64>,
    max: usize,
) -> Vec<&'a Volunteer> {
    roster
        .iter()
        .filter(|v| v.active_on_shift() && !busy.contains(&v.id) && !already_rung.contains(&v.id))
        .filter(|v| match tier {
            0 => v.has_role(Role::Dispatcher) && v.languages.contains(language),
            1 => (v.has_role(Role::Dispatcher) && v.overflow) || v.has_role(Role::Coordinator),
            _ => false,
        })
        .take(max)
        .collect()
}

/// Whether anyone who takes calls is on shift at all.
pub fn anyone_on_shift(roster: &[Volunteer]) -> bool {
    roster.iter().any(|v| v.active_on_shift() && v.can_dispatch())
}

/// The first tier from `from` on that has someone to ring, with those people.
pub fn next_tier<'a>(
    roster: &'a [Volunteer],
    from: u32,
    language: &Language,
    busy: &HashSet<i64>,
    already_rung: &HashSet<i64>,
    max: usize,
) -> Option<(u32, Vec<&'a Volunteer>)> {
    (from..TIERS).find_map(|t| {
        let people = tier(roster, t, language, busy, already_rung, max);
        (!people.is_empty()).then_some((t, people))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::test_volunteer;

    fn lang(s: &str) -> Language {
        Language::parse(s).unwrap()
    }

    #[test]
    fn tiers_follow_language_shift_overflow_and_roles() {
        let roster = vec![
            test_volunteer(1, &[Role::Dispatcher], &["en", "es"], true, false),
            test_volunteer(2, &[Role::Dispatcher], &["en"], true, true),
            test_volunteer(3, &[Role::Dispatcher], &["es"], false, false),
            test_volunteer(4, &[Role::Coordinator], &["en"], true, false),
            test_volunteer(5, &[Role::Observer], &["es"], true, false),
            test_volunteer(6, &[Role::Dispatcher], &["es"], true, false),
        ];
        let none = HashSet::new();
        let ids = |vs: Vec<&Volunteer>| vs.iter().map(|v| v.id).collect::<Vec<_>>();
        assert_eq!(ids(tier(&roster, 0, &lang("es"), &none, &none, 5)), [1, 6]);
        assert_eq!(ids(tier(&roster, 1, &lang("es"), &none, &none, 5)), [2, 4]);
        assert_eq!(ids(tier(&roster, 0, &lang("es"), &none, &none, 1)), [1], "at most max at once");
        let busy: HashSet<i64> = [1].into();
        assert_eq!(ids(tier(&roster, 0, &lang("es"), &busy, &none, 5)), [6], "never someone already on a call");
        let rung: HashSet<i64> = [2].into();
        assert_eq!(ids(tier(&roster, 1, &lang("es"), &none, &rung, 5)), [4]);
    }

    #[test]
    fn next_tier_skips_empty_tiers_and_ends() {
        let roster = vec![test_volunteer(4, &[Role::Coordinator], &["en"], true, false)];
        let none = HashSet::new();
        let (t, people) = next_tier(&roster, 0, &lang("ht"), &none, &none, 5).unwrap();
        assert_eq!((t, people.len()), (1, 1));
        let rung: HashSet<i64> = [4].into();
        assert!(next_tier(&roster, 0, &lang("ht"), &none, &rung, 5).is_none());
        assert!(anyone_on_shift(&roster));
        assert!(!anyone_on_shift(&[test_volunteer(9, &[Role::Attorney], &["en"], true, false)]));
    }
}
