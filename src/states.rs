//! The states and outcomes the database stores, as types: a call, a volunteer's
//! leg of it, an incident, an observer's dispatch, a public text thread, a
//! record owed a deletion at the provider. The store reads and writes their
//! names; everyone else compares values, so a typo does not compile.
//!
//! Each type's names are one table, `NAMES`; `as_str` and `parse` read it.

/// The name of `value` in `table`.
fn name_of<T: Copy + PartialEq>(table: &[(T, &'static str)], value: T) -> &'static str {
    table.iter().find(|(v, _)| *v == value).map(|(_, n)| *n).expect("every value has a name")
}

/// The value named `name` in `table`.
fn named<T: Copy>(table: &[(T, &'static str)], name: &str) -> Option<T> {
    table.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Choosing a language, or asked to press a key first.
    Menu,
    /// Held while volunteers are rung.
    Ringing,
    /// A volunteer took it.
    Bridged,
    /// Leaving a message.
    Voicemail,
    Ended,
}

impl CallState {
    pub const NAMES: [(CallState, &'static str); 5] = [
        (CallState::Menu, "menu"),
        (CallState::Ringing, "ringing"),
        (CallState::Bridged, "bridged"),
        (CallState::Voicemail, "voicemail"),
        (CallState::Ended, "ended"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<CallState> {
        named(&Self::NAMES, name)
    }
}

/// How a call ended, or what it came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Answered,
    Voicemail,
    CallbackRequested,
    Abandoned,
    NoOneOnShift,
    Refused,
    /// Never got its final status; ended by the sweeper after a day.
    Lost,
}

impl Outcome {
    pub const NAMES: [(Outcome, &'static str); 7] = [
        (Outcome::Answered, "answered"),
        (Outcome::Voicemail, "voicemail"),
        (Outcome::CallbackRequested, "callback_requested"),
        (Outcome::Abandoned, "abandoned"),
        (Outcome::NoOneOnShift, "no_one_on_shift"),
        (Outcome::Refused, "refused"),
        (Outcome::Lost, "lost"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<Outcome> {
        named(&Self::NAMES, name)
    }
}

/// A volunteer's leg of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegState {
    Ringing,
    /// Picked up; the whisper is playing.
    Answered,
    /// Pressed 1 and took the call.
    Accepted,
    Ended,
    /// Picked up, and over: a voicemail box, a volunteer who did not press 1,
    /// or a taker whose line dropped (or whose conversation ended). The provider
    /// hung up the tier's other phones when this one picked up, so unless the
    /// call was put through they are rung again.
    Declined,
}

impl LegState {
    pub const NAMES: [(LegState, &'static str); 5] = [
        (LegState::Ringing, "ringing"),
        (LegState::Answered, "answered"),
        (LegState::Accepted, "accepted"),
        (LegState::Ended, "ended"),
        (LegState::Declined, "declined"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<LegState> {
        named(&Self::NAMES, name)
    }

    /// Still ringing or on the line: a volunteer in this leg is busy.
    pub fn is_live(self) -> bool {
        !matches!(self, LegState::Ended | LegState::Declined)
    }
}

/// Where an incident is: `reported` → `verified` → `dispatched` → `closed`, or
/// `false_alarm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    Reported,
    Verified,
    Dispatched,
    Closed,
    FalseAlarm,
}

impl IncidentStatus {
    pub const NAMES: [(IncidentStatus, &'static str); 5] = [
        (IncidentStatus::Reported, "reported"),
        (IncidentStatus::Verified, "verified"),
        (IncidentStatus::Dispatched, "dispatched"),
        (IncidentStatus::Closed, "closed"),
        (IncidentStatus::FalseAlarm, "false_alarm"),
    ];
    /// The statuses of an incident still being worked.
    pub const OPEN: [IncidentStatus; 3] =
        [IncidentStatus::Reported, IncidentStatus::Verified, IncidentStatus::Dispatched];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<IncidentStatus> {
        named(&Self::NAMES, name)
    }

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// For people: `false alarm`.
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::FalseAlarm => "false alarm",
            other => other.as_str(),
        }
    }
}

/// An observer's place on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DispatchState {
    Paged,
    Accepted,
    OnScene,
    Done,
    Declined,
    /// Said yes after every slot was taken.
    Covered,
}

impl DispatchState {
    pub const NAMES: [(DispatchState, &'static str); 6] = [
        (DispatchState::Paged, "paged"),
        (DispatchState::Accepted, "accepted"),
        (DispatchState::OnScene, "on_scene"),
        (DispatchState::Done, "done"),
        (DispatchState::Declined, "declined"),
        (DispatchState::Covered, "covered"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<DispatchState> {
        named(&Self::NAMES, name)
    }

    /// Assigned to the incident (going, there, or been and left).
    pub fn is_assigned(self) -> bool {
        matches!(self, DispatchState::Accepted | DispatchState::OnScene | DispatchState::Done)
    }

    /// For people: `on scene`.
    pub fn label(self) -> &'static str {
        match self {
            DispatchState::OnScene => "on scene",
            other => other.as_str(),
        }
    }
}

/// A public text thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadState {
    /// Waiting for a reply: new, or the sender wrote again.
    Open,
    /// A dispatcher replied; open again when the sender writes.
    Replied,
    Handled,
    /// The sender texted STOP: no replies reach them.
    OptedOut,
}

impl ThreadState {
    pub const NAMES: [(ThreadState, &'static str); 4] = [
        (ThreadState::Open, "open"),
        (ThreadState::Replied, "replied"),
        (ThreadState::Handled, "handled"),
        (ThreadState::OptedOut, "opted_out"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<ThreadState> {
        named(&Self::NAMES, name)
    }

    /// For people: `opted out`.
    pub fn label(self) -> &'static str {
        match self {
            ThreadState::OptedOut => "opted out",
            other => other.as_str(),
        }
    }
}

/// A record deleted at the provider once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Call,
    Recording,
    Message,
    /// `SM…/ME…`: one attachment of a message.
    Media,
}

impl RecordKind {
    pub const NAMES: [(RecordKind, &'static str); 4] = [
        (RecordKind::Call, "call"),
        (RecordKind::Recording, "recording"),
        (RecordKind::Message, "message"),
        (RecordKind::Media, "media"),
    ];

    pub fn as_str(self) -> &'static str {
        name_of(&Self::NAMES, self)
    }

    pub fn parse(name: &str) -> Option<RecordKind> {
        named(&Self::NAMES, name)
    }
}

/// A stored name that is none of its type's: a database written by something
/// else, or a version skew. Reported as a database error naming the column.
pub fn unknown(column: &str, name: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {column} {name:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_value() {
        for (v, n) in CallState::NAMES {
            assert_eq!(CallState::parse(n), Some(v));
            assert_eq!(v.as_str(), n);
        }
        for (v, n) in Outcome::NAMES {
            assert_eq!(Outcome::parse(n), Some(v));
        }
        for (v, n) in LegState::NAMES {
            assert_eq!(LegState::parse(n), Some(v));
        }
        for (v, n) in IncidentStatus::NAMES {
            assert_eq!(IncidentStatus::parse(n), Some(v));
        }
        for (v, n) in DispatchState::NAMES {
            assert_eq!(DispatchState::parse(n), Some(v));
        }
        for (v, n) in ThreadState::NAMES {
            assert_eq!(ThreadState::parse(n), Some(v));
        }
        for (v, n) in RecordKind::NAMES {
            assert_eq!(RecordKind::parse(n), Some(v));
        }
        assert_eq!(CallState::parse("rinigng"), None);
        assert_eq!(IncidentStatus::FalseAlarm.label(), "false alarm");
    }
}
