//! Incidents and the legal observers sent to them: opening, paging, accepts,
//! escalation, field notes, closing.
//!
//! The server reads an incident's zone, kind and status, and who is assigned. Its
//! details (where, what was seen) are sealed to the dispatchers on shift, the legal
//! team and whoever opened it. When `dispatch_location_by_sms` is on, the location
//! is also kept server-readable while observers are being paged, because paging
//! texts carry it; that copy goes as soon as the slots are filled or the incident
//! ends.
//!
//! Lifetimes start at the close: an incident's row and details `retention_incident`
//! after it, its field notes `retention_note` after it. Until then the sweeper
//! keeps their epoch ahead of time (see [`keep_open_items_alive`]).

use std::time::Duration;

use crate::AppState;
use crate::audit::{self, Actor};
use crate::clock::UnixTime;
use crate::items::{self, Content, ItemClass, ItemError};
use crate::outbound;
use crate::roster::{self, Volunteer, Zone};
use crate::states::{DispatchState, IncidentStatus};
use crate::store::incidents::{self as field, IncidentRow, NewIncident};
use crate::store::items::{self as item_db, Link};

mod actions;
mod dashboard;
mod notes;
pub mod views;

pub use actions::{Answer, StatusChange, answer, change_status};
pub use dashboard::{Dashboard, ThreadView, dashboard, threads};
pub use notes::{NoteExpiry, NoteSaved, add_note, add_sealed_note, note_recipients};

/// What kind of activity an incident reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sighting,
    Detention,
    Checkpoint,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Sighting, Kind::Detention, Kind::Checkpoint, Kind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sighting => "sighting",
            Kind::Detention => "detention",
            Kind::Checkpoint => "checkpoint",
            Kind::Other => "other",
        }
    }

    pub fn parse(input: &str) -> std::result::Result<Kind, String> {
        let word = input.trim().to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == word)
            .ok_or_else(|| format!("unknown kind {input:?} (kinds: sighting, detention, checkpoint, other)"))
    }
}

/// Paging tiers, as stored in `incidents.page_tier`.
const TIER_ZONE: i64 = 0;
const TIER_ALL_ZONES: i64 = 1;
const TIER_DISPATCHERS: i64 = 2;

/// The longest location text a paging SMS carries.
const LOCATION_SMS_CHARS: usize = 300;
/// Items of open incidents are kept at least this far ahead of their expiry.
const KEEP_ALIVE: Duration = Duration::from_secs(2 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("{0}")]
    Invalid(String),
    #[error("there is no incident #{0}")]
    NotFound(i64),
    /// The incident has ended (closed or a false alarm).
    #[error("incident #{0} has ended")]
    Ended(i64),
    #[error("{0}")]
    NotAllowed(String),
    /// Every slot was taken before this accept.
    #[error("#{0} is covered, thank you")]
    Covered(i64),
    /// Nobody who should read it has registered a key: nothing was kept.
    #[error("nobody who should read it has registered an age key, so it was not kept")]
    NoReaders,
    #[error("{0}")]
    Item(ItemError),
    #[error("database error: {0}")]
    Store(#[from] sqlx::Error),
    #[error("{0}")]
    Roster(#[from] roster::RosterError),
}

impl From<ItemError> for DispatchError {
    fn from(e: ItemError) -> Self {
        match e {
            ItemError::Vault(crate::vault::VaultError::NoReaders) => DispatchError::NoReaders,
            other => DispatchError::Item(other),
        }
    }
}

type Result<T> = std::result::Result<T, DispatchError>;

/// A zone the network knows: one of `zones` when configured, otherwise one that
/// someone on the roster covers. Anything else may be a location typed in the
/// wrong field, which must not be stored in clear: the error lists the zones and
/// never repeats the input.
pub async fn known_zone(state: &AppState, input: &str) -> Result<Zone> {
    let known: Vec<Zone> = if state.config.zones.is_empty() {
        let mut zones: Vec<Zone> = roster::list(&state.db).await?.into_iter().flat_map(|v| v.zones).collect();
        zones.sort();
        zones.dedup();
        zones
    } else {
        state.config.zones.clone()
    };
    match Zone::parse(input).ok().filter(|z| known.contains(z)) {
        Some(z) => Ok(z),
        None => {
            let names: Vec<&str> = known.iter().map(|z| z.as_str()).collect();
            Err(DispatchError::Invalid(format!("unknown zone; zones: {}", names.join(", "))))
        }
    }
}

/// A new incident, validated.
pub struct NewReport<'a> {
    pub zone: Zone,
    pub kind: Kind,
    /// Where: goes to observers in the paging text when that is allowed.
    pub location: &'a str,
    /// What was seen; sealed with the location, never texted.
    pub description: &'a str,
}

pub struct Opened {
    pub id: i64,
    /// How many observers were paged (in the zone, or in every zone when the
    /// zone had nobody on shift).
    pub paged: usize,
    /// The sealed details, when someone could be given them.
    pub details_item: Option<i64>,
}

/// Opens an incident: seals its details, and pages on-shift observers in its zone
/// (or, when there are none, every zone, then the dispatchers).
pub async fn open(state: &AppState, report: NewReport<'_>, by: Actor<'_>) -> Result<Opened> {
    if report.location.trim().is_empty() {
        return Err(DispatchError::Invalid("the location is empty".into()));
    }
    let now = state.vault.clock().now();
    let opener = match by {
        Actor::Volunteer(v) => Some(v),
        _ => None,
    };
    let new = NewIncident {
        zone: report.zone.as_str(),
        kind: report.kind.as_str(),
        needed: i64::from(state.config.dispatch.observers),
        opened_by: opener.map(|v| v.id),
        created_hour: now.hour().0,
        page_deadline: now.plus(state.config.dispatch.timeout).0,
    };
    let id = field::insert(state.db.pool(), &new).await?;
    audit::record(state, by, "incident.open", "incident", Some(id)).await;

    let roster = roster::list(&state.db).await?;
    let mut readers = roster::on_shift_dispatchers(&roster);
    readers.extend(roster::legal_team(&roster));
    readers.extend(opener);
    let details = zeroize::Zeroizing::new(format!("{}\n{}", report.location.trim(), report.description.trim()));
    let expires = now.plus(state.config.retention.incident);
    let details_item = match items::store_linked(
        &state.db,
        &state.vault,
        ItemClass::IncidentDetails,
        Content::Plaintext(details.as_bytes()),
        &readers,
        expires,
        Some(Link::Incident(id)),
    )
    .await
    {
        Ok(item) => Some(item.id),
        Err(ItemError::Vault(crate::vault::VaultError::NoReaders)) => {
            tracing::warn!("an incident's details were not kept: nobody on shift or in the legal team has a key");
            None
        }
        Err(e) => return Err(e.into()),
    };
    if state.config.dispatch.location_by_sms {
        // Kept only while paging may need it: paging ends within two timeouts.
        let until = now.plus(state.config.dispatch.timeout.saturating_mul(2).saturating_add(Duration::from_secs(3600)));
        let location: String = report.location.trim().chars().take(LOCATION_SMS_CHARS).collect();
        let location = zeroize::Zeroizing::new(location);
        let kept = items::store_for_server_linked(
            &state.db,
            &state.vault,
            ItemClass::DispatchLocation,
            location.as_bytes(),
            until,
            Some(Link::Incident(id)),
        )
        .await;
        if let Err(e) = kept {
            // Paging still goes out, with a link to sign in instead of the location.
            tracing::warn!(error = %e, "an incident's location could not be kept for paging");
        }
    }
    let incident = field::get(state.db.pool(), id).await?.ok_or(DispatchError::NotFound(id))?;
    if page(state, &incident, &roster, TIER_ZONE, opener).await? == 0 {
        // Nobody in the zone: every zone at once, then the dispatchers.
        escalate(state, id, TIER_ZONE).await?;
    }
    let paged = field::dispatches_of(state.db.pool(), id).await?.len();
    Ok(Opened { id, paged, details_item })
}

/// The location kept for paging, if it is still there.
async fn dispatch_location(state: &AppState, id: i64) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let linked = item_db::linked(state.db.pool(), Link::Incident(id)).await.ok()?;
    let item = linked.iter().find(|i| i.class == ItemClass::DispatchLocation.as_str())?;
    items::open_for_server(&state.db, &state.vault, item.id, ItemClass::DispatchLocation).await.ok()
}

async fn drop_dispatch_location(state: &AppState, id: i64) {
    let Ok(linked) = item_db::linked(state.db.pool(), Link::Incident(id)).await else { return };
    for item in linked.iter().filter(|i| i.class == ItemClass::DispatchLocation.as_str()) {
        if let Err(e) = item_db::delete(state.db.pool(), item.id).await {
            tracing::warn!(error = %e, "a paging location could not be deleted; it expires with its epoch");
        }
    }
}

/// Pages the on-shift observers of `tier` who have not been paged for this
/// incident yet. Returns how many were paged.
async fn page(
    state: &AppState,
    incident: &IncidentRow,
    roster: &[Volunteer],
    tier: i64,
    skip: Option<&Volunteer>,
) -> Result<usize> {
    let zone = Zone::parse(&incident.zone).map_err(DispatchError::Invalid)?;
    let observers: Vec<&Volunteer> = roster
        .iter()
        .filter(|v| v.active_on_shift() && v.is_observer())
        .filter(|v| tier != TIER_ZONE || v.zones.contains(&zone))
        .filter(|v| skip.is_none_or(|s| s.id != v.id))
        .collect();
    let location =
        if state.config.dispatch.location_by_sms { dispatch_location(state, incident.id).await } else { None };
    let id = incident.id;
    let text = match &location {
        Some(loc) => zeroize::Zeroizing::new(format!(
            "quietline #{id} {} ({}): {}. Reply Y {id} to go, N {id} if you cannot.",
            incident.zone,
            incident.kind,
            String::from_utf8_lossy(loc)
        )),
        None => zeroize::Zeroizing::new(format!(
            "quietline #{id} {} ({}). Sign in for the location: {}. Reply Y {id} to go, N {id} if you cannot.",
            incident.zone,
            incident.kind,
            state.public(&format!("/console/incidents/{id}"))
        )),
    };
    let mut paged = 0;
    for v in observers {
        if !field::add_paged(state.db.pool(), id, v.id).await? {
            continue;
        }
        if outbound::text_volunteer(state, v, &text).await {
            paged += 1;
        }
    }
    if paged > 0 {
        audit::record(state, Actor::System, "dispatch.page", "incident", Some(id)).await;
    }
    Ok(paged)
}

/// No accept by the deadline: page every zone, then alert the dispatchers. Only
/// one instance wins each step.
pub async fn escalate(state: &AppState, id: i64, from: i64) -> Result<()> {
    let now = state.vault.clock().now();
    let Some(incident) = field::get(state.db.pool(), id).await? else { return Ok(()) };
    if !incident.status.is_open() || incident.assigned > 0 || incident.page_tier != from {
        return Ok(());
    }
    match from {
        TIER_ZONE => {
            let deadline = now.plus(state.config.dispatch.timeout).0;
            if !field::advance_page(state.db.pool(), id, TIER_ZONE, TIER_ALL_ZONES, Some(deadline)).await? {
                return Ok(());
            }
            audit::record(state, Actor::System, "dispatch.escalate", "incident", Some(id)).await;
            let roster = roster::list(&state.db).await?;
            let paged = page(state, &incident, &roster, TIER_ALL_ZONES, None).await?;
            if paged == 0 {
                Box::pin(escalate(state, id, TIER_ALL_ZONES)).await?;
            }
        }
        TIER_ALL_ZONES => {
            if !field::advance_page(state.db.pool(), id, TIER_ALL_ZONES, TIER_DISPATCHERS, None).await? {
                return Ok(());
            }
            audit::record(state, Actor::System, "dispatch.unanswered", "incident", Some(id)).await;
            // Paging is over: the server has no more use for the location.
            drop_dispatch_location(state, id).await;
            let paged = field::dispatches_of(state.db.pool(), id).await?.len();
            let text = if paged == 0 {
                format!("quietline #{id} {}: no observer is on shift to page. Call observers directly.", incident.zone)
            } else {
                format!(
                    "quietline #{id} {}: no observer has accepted ({paged} paged). Call observers directly.",
                    incident.zone
                )
            };
            outbound::text_dispatchers(state, &text).await;
        }
        _ => {}
    }
    Ok(())
}

/// Incidents whose paging deadline passed without an accept: escalate each.
pub async fn escalate_due(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let due = field::due_pages(state.db.pool(), now.0).await?;
    for (id, tier) in &due {
        escalate(state, *id, *tier).await?;
    }
    Ok(due.len())
}

/// What came of a `Y`.
pub enum Accepted {
    /// Assigned: `n` of `needed`.
    Assigned { n: i64, needed: i64 },
    /// Every slot was already taken.
    Covered,
    /// Already assigned (or already been and left).
    Already,
}

async fn incident(state: &AppState, id: i64) -> Result<IncidentRow> {
    field::get(state.db.pool(), id).await?.ok_or(DispatchError::NotFound(id))
}

fn require_observer(v: &Volunteer) -> Result<()> {
    if v.is_observer() { Ok(()) } else { Err(DispatchError::NotAllowed("only observers take dispatches".into())) }
}

/// The observer's place on an incident: only someone paged for it (or assigned)
/// may answer it. Anyone else hears what a number that does not exist gets, so
/// incident numbers of other zones tell them nothing.
async fn dispatch_of(state: &AppState, id: i64, v: &Volunteer) -> Result<(IncidentRow, DispatchState)> {
    require_observer(v)?;
    let incident = incident(state, id).await?;
    match field::dispatch_state(state.db.pool(), id, v.id).await? {
        Some(s) => Ok((incident, s)),
        None => Err(DispatchError::NotFound(id)),
    }
}

/// An observer accepts: the first `needed` are assigned, in one transaction per
/// accept so no slot is handed out twice, on any number of instances.
pub async fn accept(state: &AppState, id: i64, v: &Volunteer) -> Result<Accepted> {
    let (incident, _) = dispatch_of(state, id, v).await?;
    if !incident.status.is_open() {
        return Err(DispatchError::Ended(id));
    }
    let mut tx = state.db.begin_write().await?;
    if !field::claim_acceptance(&mut *tx, id, v.id).await? {
        return Ok(Accepted::Already);
    }
    let taken = field::take_slot(&mut *tx, id).await?;
    if taken.is_none() {
        field::set_dispatch(&mut *tx, id, v.id, DispatchState::Covered).await?;
    }
    tx.commit().await?;
    let Some(n) = taken else {
        audit::record(state, Actor::Volunteer(v), "dispatch.covered", "incident", Some(id)).await;
        return Ok(Accepted::Covered);
    };
    audit::record(state, Actor::Volunteer(v), "dispatch.accept", "incident", Some(id)).await;
    // Paging stopped with this accept: those paged already have the location.
    drop_dispatch_location(state, id).await;
    outbound::text_dispatchers(state, &format!("quietline #{id}: {} is going ({n} of {}).", v.alias, incident.needed))
        .await;
    Ok(Accepted::Assigned { n, needed: incident.needed })
}

/// An observer declines (or withdraws after accepting, giving the slot back).
pub async fn decline(state: &AppState, id: i64, v: &Volunteer) -> Result<()> {
    let (incident, _) = dispatch_of(state, id, v).await?;
    if !incident.status.is_open() {
        return Err(DispatchError::Ended(id));
    }
    // The dispatch row first, then the incident's, as in `accept`: one lock
    // order, and a slot given back only by the one decline that withdrew. A
    // slot given back with nobody left assigned puts paging back on a deadline,
    // from the zone up, so the incident escalates again.
    let now = state.vault.clock().now();
    let mut tx = state.db.begin_write().await?;
    let going = [DispatchState::Accepted, DispatchState::OnScene];
    let withdrew = field::move_dispatch(&mut *tx, id, v.id, &going, DispatchState::Declined).await?;
    if withdrew {
        field::release_slot(&mut *tx, id, now.plus(state.config.dispatch.timeout).0, TIER_ZONE).await?;
    } else {
        let asked = [DispatchState::Paged, DispatchState::Covered, DispatchState::Declined];
        field::move_dispatch(&mut *tx, id, v.id, &asked, DispatchState::Declined).await?;
    }
    tx.commit().await?;
    audit::record(state, Actor::Volunteer(v), "dispatch.decline", "incident", Some(id)).await;
    if withdrew {
        outbound::text_dispatchers(state, &format!("quietline #{id}: {} withdrew and cannot go.", v.alias)).await;
    }
    Ok(())
}

/// `AT` and `DONE`: an assigned observer arrives or leaves.
pub async fn arrive_or_leave(state: &AppState, id: i64, v: &Volunteer, arrived: bool) -> Result<()> {
    dispatch_of(state, id, v).await?;
    let allowed = if arrived {
        [DispatchState::Accepted].as_slice()
    } else {
        [DispatchState::Accepted, DispatchState::OnScene].as_slice()
    };
    let (state_name, action) =
        if arrived { (DispatchState::OnScene, "dispatch.on_scene") } else { (DispatchState::Done, "dispatch.done") };
    if !field::move_dispatch(state.db.pool(), id, v.id, allowed, state_name).await? {
        return Err(DispatchError::NotAllowed(format!("you are not assigned to #{id}")));
    }
    audit::record(state, Actor::Volunteer(v), action, "incident", Some(id)).await;
    Ok(())
}

/// `verified`: someone confirmed the report.
pub async fn verify(state: &AppState, id: i64, by: Actor<'_>) -> Result<()> {
    let incident = incident(state, id).await?;
    if !field::verify(state.db.pool(), id).await? {
        return Err(DispatchError::Invalid(format!("#{id} is {}, not reported", incident.status.label())));
    }
    audit::record(state, by, "incident.verify", "incident", Some(id)).await;
    Ok(())
}

/// Ends an incident (`closed`, or `false_alarm`): paging stops, the paging copy of
/// the location goes, and the lifetimes of the incident and its notes start.
pub async fn close(state: &AppState, id: i64, false_alarm: bool, by: Actor<'_>) -> Result<UnixTime> {
    let now = state.vault.clock().now();
    incident(state, id).await?;
    let expires = now.plus(state.config.retention.incident);
    let status = if false_alarm { IncidentStatus::FalseAlarm } else { IncidentStatus::Closed };
    if !field::close(state.db.pool(), id, status, now.0, expires.0).await? {
        return Err(DispatchError::Ended(id));
    }
    audit::record(state, by, if false_alarm { "incident.false_alarm" } else { "incident.close" }, "incident", Some(id))
        .await;
    drop_dispatch_location(state, id).await;
    for item in item_db::linked(state.db.pool(), Link::Incident(id)).await? {
        let until = match ItemClass::parse(&item.class) {
            Some(ItemClass::Note) => now.plus(state.config.retention.note),
            _ => expires,
        };
        if let Err(e) = items::reseal(&state.db, &state.vault, item.id, until).await {
            tracing::warn!(error = %e, "an item of a closed incident could not be moved to its lifetime");
        }
    }
    let roster = roster::list(&state.db).await?;
    for (volunteer_id, s) in field::dispatches_of(state.db.pool(), id).await? {
        if matches!(s, DispatchState::Accepted | DispatchState::OnScene)
            && let Some(v) = roster.iter().find(|v| v.id == volunteer_id)
        {
            outbound::text_volunteer(state, v, &format!("quietline #{id} is {}. Thank you.", status.label())).await;
        }
    }
    Ok(expires)
}

/// Closes incidents left open longer than `incident_auto_close`: nothing is kept
/// just because nobody closed it. Run by the sweeper; returns how many.
pub async fn close_forgotten(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let before = now.0 - state.config.dispatch.auto_close.as_secs() as i64;
    let forgotten = field::open_before(state.db.pool(), before).await?;
    let mut closed = 0;
    for id in forgotten {
        match close(state, id, false, Actor::System).await {
            Ok(_) => closed += 1,
            // Closed meanwhile, by someone or another instance.
            Err(DispatchError::Ended(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(closed)
}

/// Keeps the details and notes of incidents still open from expiring: their
/// lifetimes start at the close. Run by the sweeper; returns how many moved.
pub async fn keep_open_items_alive(state: &AppState) -> Result<usize> {
    let now = state.vault.clock().now();
    let due = item_db::of_open_incidents_expiring(state.db.pool(), now.plus(KEEP_ALIVE / 2).0).await?;
    let mut moved = 0;
    for item in due {
        let lifetime = match ItemClass::parse(&item.class) {
            Some(ItemClass::Note) => state.config.retention.note,
            Some(ItemClass::IncidentDetails) => state.config.retention.incident,
            // The paging copy of a location is never kept alive.
            _ => continue,
        };
        let until = now.plus(lifetime.max(KEEP_ALIVE));
        match items::reseal(&state.db, &state.vault, item.id, until).await {
            Ok(()) => moved += 1,
            Err(e) => tracing::warn!(error = %e, "an open incident's item could not be kept alive"),
        }
    }
    Ok(moved)
}
