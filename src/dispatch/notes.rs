//! Field notes on an incident: sealed to their author and the legal team, by
//! the server or already on the author's device, and deleted a set time after
//! the incident closes.

use std::fmt;
use std::time::Duration;

use super::{DispatchError, Result, incident};
use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::items::{self, Content, ItemClass};
use crate::roster::{self, Volunteer};
use crate::states::DispatchState;
use crate::store::incidents as field;
use crate::store::items::Link;

/// When a field note will be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteExpiry {
    /// `retention_note` after its incident closes.
    AfterClose(Duration),
    At(UnixTime),
}

impl NoteExpiry {
    /// The same words with the incident named: `30 days after #12 closes`.
    pub fn of_incident(&self, id: i64) -> String {
        self.words(&format!("#{id}"))
    }

    fn words(&self, incident: &str) -> String {
        match self {
            NoteExpiry::AfterClose(d) => format!("{} after {incident} closes", crate::clock::in_words(*d)),
            NoteExpiry::At(t) => format!("on {}", t.display_utc()),
        }
    }
}

/// `30 days after the incident closes`, or `on 2026-05-01 14:00 UTC`.
impl fmt::Display for NoteExpiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words("the incident"))
    }
}

pub struct NoteSaved {
    pub id: i64,
    pub expiry: NoteExpiry,
    /// False when the author has no key: only the legal team can read it.
    pub author_reads: bool,
}

/// A field note on an incident, sealed at once to its author and the legal team.
/// Assigned observers, dispatchers, coordinators and attorneys may write one.
pub async fn add_note(state: &AppState, id: i64, author: &Volunteer, text: &[u8]) -> Result<NoteSaved> {
    store_note(state, id, author, Content::Plaintext(text)).await
}

/// A field note sealed on the author's device to [`note_recipients`]: an age
/// file the server wraps in its epoch layer without reading.
pub async fn add_sealed_note(state: &AppState, id: i64, author: &Volunteer, age: &[u8]) -> Result<NoteSaved> {
    store_note(state, id, author, Content::Age(age)).await
}

/// The public keys a note on incident `id` by `author` is sealed to (what a
/// device sealing it itself needs): the author's and the legal team's.
pub async fn note_recipients(state: &AppState, id: i64, author: &Volunteer) -> Result<Vec<String>> {
    let (readers, _) = note_readers(state, id, author).await?;
    let mut keys: Vec<String> =
        readers.iter().filter(|v| v.can_read()).flat_map(|v| v.keys.iter().map(|k| k.as_str().to_string())).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Err(DispatchError::NoReaders);
    }
    Ok(keys)
}

/// Who reads a note `author` writes on incident `id`, and when it expires; an
/// error when they may not write one.
async fn note_readers(
    state: &AppState,
    id: i64,
    author: &Volunteer,
) -> Result<(Vec<Volunteer>, (UnixTime, NoteExpiry))> {
    let incident = incident(state, id).await?;
    if !author.is_staff() {
        let current = field::dispatch_state(state.db.pool(), id, author.id).await?;
        if !current.is_some_and(DispatchState::is_assigned) {
            return Err(DispatchError::NotAllowed(format!("you are not assigned to #{id}")));
        }
    }
    let now = state.vault.clock().now();
    let note_life = state.config.retention.note;
    let (expires, expiry) = match incident.closed_at {
        Some(closed) => (UnixTime(closed).plus(note_life), NoteExpiry::At(UnixTime(closed).plus(note_life))),
        None => (now.plus(note_life), NoteExpiry::AfterClose(note_life)),
    };
    if expires <= now {
        return Err(DispatchError::Ended(id));
    }
    let roster = roster::list(&state.db).await?;
    let mut readers: Vec<Volunteer> = roster::legal_team(&roster).into_iter().cloned().collect();
    // The author as read now, so that a key added a moment ago counts.
    readers.push(roster.iter().find(|v| v.id == author.id).cloned().unwrap_or_else(|| author.clone()));
    Ok((readers, (expires, expiry)))
}

async fn store_note(state: &AppState, id: i64, author: &Volunteer, content: Content<'_>) -> Result<NoteSaved> {
    let (readers, (expires, expiry)) = note_readers(state, id, author).await?;
    let refs: Vec<&Volunteer> = readers.iter().collect();
    let stored = items::store_linked(
        &state.db,
        &state.vault,
        ItemClass::Note,
        content,
        &refs,
        expires,
        Some(Link::Incident(id)),
    )
    .await?;
    audit::record(state, Actor::Volunteer(author), "note.add", "incident", Some(id)).await;
    let author_reads = readers.last().is_some_and(Volunteer::has_key);
    Ok(NoteSaved { id: stored.id, expiry, author_reads })
}
