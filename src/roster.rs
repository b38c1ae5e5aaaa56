//! The roster: who the volunteers are, what they do, and who is on shift.
//!
//! Input is validated here once (aliases, roles, languages, zones, numbers,
//! age recipients); the store keeps what this module hands it.

use std::fmt;

use serde::Serialize;

use crate::language::{self, Language};
use crate::phone::PhoneNumber;
use crate::store::{Db, device_keys, items, tokens, volunteers, volunteers::VolunteerRow};
use crate::vault::{AgeRecipient, Vault, VaultError};

/// What a volunteer does for the network. One person may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Coordinator,
    Dispatcher,
    Observer,
    Attorney,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Coordinator, Role::Dispatcher, Role::Observer, Role::Attorney];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Dispatcher => "dispatcher",
            Role::Observer => "observer",
            Role::Attorney => "attorney",
        }
    }

    pub fn parse(input: &str) -> Result<Role, String> {
        let word = input.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == word)
            .ok_or_else(|| format!("unknown role {input:?} (roles: coordinator, dispatcher, observer, attorney)"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A volunteer's handle: 1 to 32 of `a-z 0-9 . _ -`, case-insensitive (kept in
/// lowercase), so that `Maria` and `maria` are one person on the command line and
/// by SMS alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Alias(String);

impl Alias {
    pub fn parse(input: &str) -> Result<Alias, String> {
        let alias = input.trim().to_ascii_lowercase();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        if alias.is_empty() || alias.len() > 32 || !alias.chars().all(ok_char) {
            return Err(format!("{input:?} is not an alias (1 to 32 letters, digits, '.', '_' or '-')"));
        }
        Ok(Alias(alias))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named area a network covers, e.g. `north` or `east-side`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Zone(String);

impl Zone {
    pub fn parse(input: &str) -> Result<Zone, String> {
        let zone = input.trim().to_ascii_lowercase();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if zone.is_empty() || zone.len() > 32 || !zone.chars().all(ok_char) {
            return Err(format!("{input:?} is not a zone name (1 to 32 letters, digits or '-')"));
        }
        Ok(Zone(zone))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A volunteer on the roster. The phone number stays sealed until it is needed
/// (see [`Volunteer::phone`]).
#[derive(Debug, Clone)]
pub struct Volunteer {
    pub id: i64,
    pub alias: Alias,
    phone_sealed: Vec<u8>,
    pub roles: Vec<Role>,
    pub languages: Vec<Language>,
    pub zones: Vec<Zone>,
    pub on_shift: bool,
    /// Rung in the overflow tier for callers of any language.
    pub overflow: bool,
    /// The public keys of the volunteer's devices: whatever is sealed to them is
    /// sealed to each. Empty when they registered none.
    pub keys: Vec<AgeRecipient>,
    /// Revoked by a coordinator (a seized phone): a reader of nothing that arrives
    /// after, rung and paged for nothing, until they enroll again.
    pub revoked: bool,
}

/// A volunteer for unit tests of pure logic (no number).
#[cfg(test)]
pub(crate) fn test_volunteer(id: i64, roles: &[Role], languages: &[&str], on_shift: bool, overflow: bool) -> Volunteer {
    Volunteer {
        id,
        alias: Alias::parse(&format!("v{id}")).unwrap(),
        phone_sealed: Vec::new(),
        roles: roles.to_vec(),
        languages: languages.iter().map(|l| Language::parse(l).unwrap()).collect(),
        zones: vec![Zone::parse("north").unwrap()],
        on_shift,
        overflow,
        keys: Vec::new(),
        revoked: false,
    }
}

impl Volunteer {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether any of their devices registered a key.
    pub fn has_key(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Manages the roster, reads the audit trail and the exposure report.
    pub fn is_coordinator(&self) -> bool {
        self.has_role(Role::Coordinator)
    }

    /// Takes dispatches: paged for incidents, answers them, writes notes on them.
    pub fn is_observer(&self) -> bool {
        self.has_role(Role::Observer)
    }

    /// Opens incidents and changes their status, handles texts from the public.
    pub fn can_dispatch(&self) -> bool {
        self.has_role(Role::Dispatcher) || self.is_coordinator()
    }

    /// The legal team: coordinators and attorneys, readers of every field note.
    pub fn is_legal(&self) -> bool {
        self.is_coordinator() || self.has_role(Role::Attorney)
    }

    /// Sees every incident and may write a note on any: dispatchers and the legal team.
    pub fn is_staff(&self) -> bool {
        self.can_dispatch() || self.is_legal()
    }

    /// Whether content may be sealed to them: a key registered, not revoked.
    pub fn can_read(&self) -> bool {
        self.has_key() && !self.revoked
    }

    /// Whether they may be rung, paged or texted as a volunteer now.
    pub fn active_on_shift(&self) -> bool {
        self.on_shift && !self.revoked
    }

    /// The volunteer's number, unsealed with the server key for dialing.
    pub fn phone(&self, vault: &Vault) -> Result<PhoneNumber, RosterError> {
        let bytes = vault.server().open(&self.phone_sealed).map_err(RosterError::Vault)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| RosterError::Corrupt(format!("volunteer {}", self.id)))?;
        PhoneNumber::parse(text).map_err(|e| RosterError::Corrupt(format!("volunteer {}: {e}", self.id)))
    }
}

/// The legal team: every coordinator and attorney who can read (a key, not revoked).
pub fn legal_team(roster: &[Volunteer]) -> Vec<&Volunteer> {
    roster.iter().filter(|v| v.can_read() && v.is_legal()).collect()
}

/// Dispatchers on shift right now who can read (a key, not revoked).
pub fn on_shift_dispatchers(roster: &[Volunteer]) -> Vec<&Volunteer> {
    roster.iter().filter(|v| v.active_on_shift() && v.can_read() && v.has_role(Role::Dispatcher)).collect()
}

/// A volunteer to add, already validated.
pub struct NewVolunteer {
    pub alias: Alias,
    pub phone: PhoneNumber,
    pub roles: Vec<Role>,
    pub languages: Vec<Language>,
    pub zones: Vec<Zone>,
    pub overflow: bool,
    pub age_recipient: Option<AgeRecipient>,
}

impl NewVolunteer {
    /// Validates the text a coordinator typed. Every field is checked before
    /// anything is stored.
    pub fn parse(
        alias: &str,
        phone: &str,
        roles: &str,
        languages: &str,
        zones: &str,
        age_recipient: Option<&str>,
    ) -> Result<NewVolunteer, RosterError> {
        let invalid = RosterError::Invalid;
        Ok(NewVolunteer {
            alias: Alias::parse(alias).map_err(invalid)?,
            phone: PhoneNumber::parse(phone).map_err(|e| invalid(format!("phone: {e}")))?,
            roles: parse_set(roles, Role::parse, "role").map_err(invalid)?,
            languages: language::parse_list(languages).map_err(invalid)?,
            zones: parse_set(zones, Zone::parse, "zone").map_err(invalid)?,
            overflow: false,
            age_recipient: age_recipient.map(AgeRecipient::parse).transpose().map_err(invalid)?,
        })
    }
}

/// Parses a comma-separated, non-empty list without duplicates.
fn parse_set<T: PartialEq>(input: &str, parse: fn(&str) -> Result<T, String>, what: &str) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let item = parse(part)?;
        if out.contains(&item) {
            return Err(format!("{what} {part:?} is listed twice"));
        }
        out.push(item);
    }
    if out.is_empty() {
        return Err(format!("at least one {what} is needed"));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("{0}")]
    Invalid(String),
    #[error("alias {0} is already on the roster")]
    AliasTaken(Alias),
    #[error("that phone number already belongs to a volunteer on the roster")]
    PhoneTaken,
    #[error("no volunteer called {0:?} on the roster")]
    NotFound(String),
    /// A stored row that no longer parses: reported, never silently skipped.
    #[error("a roster row cannot be read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Vault(VaultError),
    #[error("database error: {0}")]
    Store(#[from] sqlx::Error),
}

fn join<T>(items: &[T], f: impl Fn(&T) -> &str) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(",")
}

fn from_row(row: VolunteerRow) -> Result<Volunteer, RosterError> {
    let corrupt = |e: String| RosterError::Corrupt(format!("volunteer {}: {e}", row.id));
    Ok(Volunteer {
        id: row.id,
        alias: Alias::parse(&row.alias).map_err(corrupt)?,
        phone_sealed: row.phone_sealed,
        roles: parse_set(&row.roles, Role::parse, "role").map_err(corrupt)?,
        languages: language::parse_list(&row.languages).map_err(corrupt)?,
        zones: parse_set(&row.zones, Zone::parse, "zone").map_err(corrupt)?,
        on_shift: row.on_shift,
        overflow: row.overflow,
        keys: row
            .recipients
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(AgeRecipient::parse)
            .collect::<Result<_, _>>()
            .map_err(corrupt)?,
        revoked: row.revoked,
    })
}

/// Adds a volunteer, off shift. Alias and phone number must be new to the roster;
/// the checks and the insert run in one transaction, and the unique constraints
/// catch a concurrent duplicate.
pub async fn add(db: &Db, vault: &Vault, new: NewVolunteer) -> Result<Volunteer, RosterError> {
    let lookup = vault.server().phone_lookup(new.phone.as_str());
    let phone_sealed = vault.server().seal(new.phone.as_str().as_bytes()).map_err(RosterError::Vault)?;
    let mut tx = db.begin_write().await?;
    if volunteers::find_by_alias(&mut *tx, new.alias.as_str()).await?.is_some() {
        return Err(RosterError::AliasTaken(new.alias));
    }
    if volunteers::find_by_phone_lookup(&mut *tx, &lookup).await?.is_some() {
        return Err(RosterError::PhoneTaken);
    }
    let mut row = VolunteerRow {
        id: 0,
        alias: new.alias.as_str().to_string(),
        phone_sealed,
        phone_lookup: lookup,
        roles: join(&new.roles, |r| r.as_str()),
        languages: join(&new.languages, |l| l.as_str()),
        zones: join(&new.zones, |z| z.as_str()),
        on_shift: false,
        overflow: new.overflow,
        recipients: new.age_recipient.as_ref().map(|k| k.as_str().to_string()),
        revoked: false,
    };
    row.id = match volunteers::insert(&mut *tx, &row).await {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(RosterError::AliasTaken(new.alias));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(key) = &new.age_recipient {
        device_keys::insert(&mut *tx, row.id, key.as_str(), KEY_FROM_COORDINATOR, vault.clock().now().0).await?;
    }
    tx.commit().await?;
    from_row(row)
}

pub async fn list(db: &Db) -> Result<Vec<Volunteer>, RosterError> {
    volunteers::list(db.pool()).await?.into_iter().map(from_row).collect()
}

/// The volunteers on shift. Routing reads this for every call, so it does not
/// read (and decode) the whole roster.
pub async fn on_shift(db: &Db) -> Result<Vec<Volunteer>, RosterError> {
    volunteers::list_on_shift(db.pool()).await?.into_iter().map(from_row).collect()
}

/// Those on shift who can be rung for a call, without their device keys.
pub async fn ringable(db: &Db) -> Result<Vec<Volunteer>, RosterError> {
    volunteers::list_ringable(db.pool()).await?.into_iter().map(from_row).collect()
}

pub async fn get(db: &Db, alias: &str) -> Result<Volunteer, RosterError> {
    let alias = Alias::parse(alias).map_err(RosterError::Invalid)?;
    match volunteers::find_by_alias(db.pool(), alias.as_str()).await? {
        Some(row) => from_row(row),
        None => Err(RosterError::NotFound(alias.to_string())),
    }
}

pub async fn get_by_id(db: &Db, id: i64) -> Result<Option<Volunteer>, RosterError> {
    volunteers::find_by_id(db.pool(), id).await?.map(from_row).transpose()
}

/// The volunteer with this number, if any (for SMS commands and masked calls).
pub async fn find_by_phone(db: &Db, vault: &Vault, phone: &PhoneNumber) -> Result<Option<Volunteer>, RosterError> {
    let lookup = vault.server().phone_lookup(phone.as_str());
    volunteers::find_by_phone_lookup(db.pool(), &lookup).await?.map(from_row).transpose()
}

/// Removes a volunteer and, in the same transaction, everything only they could
/// use: their API tokens, their reader entries, and items nobody else can read.
/// Returns how many such items were deleted.
pub async fn remove(db: &Db, alias: &str) -> Result<u64, RosterError> {
    let alias = Alias::parse(alias).map_err(RosterError::Invalid)?;
    let mut tx = db.begin_write().await?;
    let Some(row) = volunteers::find_by_alias(&mut *tx, alias.as_str()).await? else {
        return Err(RosterError::NotFound(alias.to_string()));
    };
    let items = items::delete_sole_reader_items(&mut *tx, row.id).await?;
    tokens::delete_for_volunteer(&mut *tx, row.id).await?;
    volunteers::delete(&mut *tx, row.id).await?;
    tx.commit().await?;
    Ok(items)
}

/// The label of a key a coordinator registered for a volunteer.
pub const KEY_FROM_COORDINATOR: &str = "registered by a coordinator";

/// Makes `recipient` a volunteer's only key (the coordinator's `volunteer key`:
/// a lost key file replaced by a new one). Keys their browsers registered go.
pub async fn replace_keys(db: &Db, vault: &Vault, alias: &str, recipient: &AgeRecipient) -> Result<(), RosterError> {
    let alias = Alias::parse(alias).map_err(RosterError::Invalid)?;
    let mut tx = db.begin_write().await?;
    let Some(row) = volunteers::find_by_alias(&mut *tx, alias.as_str()).await? else {
        return Err(RosterError::NotFound(alias.to_string()));
    };
    device_keys::delete_all_for(&mut *tx, row.id).await?;
    device_keys::insert(&mut *tx, row.id, recipient.as_str(), KEY_FROM_COORDINATOR, vault.clock().now().0).await?;
    tx.commit().await?;
    Ok(())
}

/// Seals numbers stored in clear before the vault existed, then checkpoints so the
/// clear copies leave the SQLite WAL too. Returns how many were sealed.
pub async fn seal_legacy_phones(db: &Db, vault: &Vault) -> Result<usize, RosterError> {
    let legacy = volunteers::legacy_phones(db.pool()).await?;
    if legacy.is_empty() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    for (id, text) in &legacy {
        let phone = PhoneNumber::parse(text).map_err(|e| RosterError::Corrupt(format!("volunteer {id}: {e}")))?;
        let sealed = vault.server().seal(phone.as_str().as_bytes()).map_err(RosterError::Vault)?;
        let lookup = vault.server().phone_lookup(phone.as_str());
        volunteers::seal_legacy_phone(&mut *tx, *id, &sealed, &lookup).await?;
    }
    tx.commit().await?;
    db.checkpoint().await?;
    Ok(legacy.len())
}

/// Puts a volunteer on or off shift. A revoked volunteer cannot go on shift: their
/// phone may be in someone else's hands.
pub async fn set_shift(db: &Db, alias: &str, on_shift: bool) -> Result<(), RosterError> {
    let alias = Alias::parse(alias).map_err(RosterError::Invalid)?;
    if on_shift && get(db, alias.as_str()).await?.revoked {
        return Err(RosterError::Invalid(format!("{alias} is revoked: they enroll again before going on shift")));
    }
    if volunteers::set_on_shift(db.pool(), alias.as_str(), on_shift).await? {
        Ok(())
    } else {
        Err(RosterError::NotFound(alias.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn volunteer(id: i64, roles: &[Role], on_shift: bool, key: bool) -> Volunteer {
        Volunteer {
            id,
            alias: Alias::parse(&format!("v{id}")).unwrap(),
            phone_sealed: Vec::new(),
            roles: roles.to_vec(),
            languages: vec![Language::parse("en").unwrap()],
            zones: vec![Zone::parse("north").unwrap()],
            on_shift,
            overflow: false,
            keys: if key { vec![AgeRecipient::parse(KEY).unwrap()] } else { Vec::new() },
            revoked: false,
        }
    }

    #[test]
    fn reader_groups_follow_roles_shift_and_keys() {
        let roster = [
            volunteer(1, &[Role::Coordinator], false, true),
            volunteer(2, &[Role::Attorney], true, true),
            volunteer(3, &[Role::Attorney], true, false),
            volunteer(4, &[Role::Dispatcher], true, true),
            volunteer(5, &[Role::Dispatcher], false, true),
            volunteer(6, &[Role::Dispatcher, Role::Coordinator], true, true),
            volunteer(7, &[Role::Observer], true, true),
        ];
        let ids = |vs: Vec<&Volunteer>| vs.iter().map(|v| v.id).collect::<Vec<_>>();
        assert_eq!(ids(legal_team(&roster)), [1, 2, 6]);
        assert_eq!(ids(on_shift_dispatchers(&roster)), [4, 6]);
    }

    #[test]
    fn role_predicates_follow_the_roles() {
        use Role::*;
        let cases: [(&[Role], [bool; 5]); 5] = [
            // is_coordinator, is_observer, can_dispatch, is_legal, is_staff
            (&[Coordinator], [true, false, true, true, true]),
            (&[Dispatcher], [false, false, true, false, true]),
            (&[Observer], [false, true, false, false, false]),
            (&[Attorney], [false, false, false, true, true]),
            (&[Observer, Attorney], [false, true, false, true, true]),
        ];
        for (roles, expected) in cases {
            let v = volunteer(1, roles, true, true);
            let got = [v.is_coordinator(), v.is_observer(), v.can_dispatch(), v.is_legal(), v.is_staff()];
            assert_eq!(got, expected, "{roles:?}");
        }
    }

    #[test]
    fn parses_a_full_volunteer() {
        let v = NewVolunteer::parse("Maria", "+1 415 555 0100", "dispatcher, Observer", "en,es", "north", Some(KEY))
            .unwrap();
        assert_eq!(v.alias.as_str(), "maria");
        assert_eq!(v.roles, [Role::Dispatcher, Role::Observer]);
        assert_eq!(v.zones[0].as_str(), "north");
    }

    #[test]
    fn refuses_bad_fields_with_a_reason() {
        let ok = ("maria", "+14155550100", "dispatcher", "en", "north");
        #[allow(clippy::type_complexity)]
        let cases: [(&str, &str, &str, &str, &str, Option<&str>, &str); 8] = [
            ("", ok.1, ok.2, ok.3, ok.4, None, "alias"),
            ("a b", ok.1, ok.2, ok.3, ok.4, None, "alias"),
            (ok.0, "4155550100", ok.2, ok.3, ok.4, None, "phone"),
            (ok.0, ok.1, "admin", ok.3, ok.4, None, "unknown role"),
            (ok.0, ok.1, "", ok.3, ok.4, None, "at least one role"),
            (ok.0, ok.1, "observer,observer", ok.3, ok.4, None, "twice"),
            (ok.0, ok.1, ok.2, "spanish", ok.4, None, "language code"),
            (ok.0, ok.1, ok.2, ok.3, ok.4, Some("age1notakey"), "age public key"),
        ];
        for (a, p, r, l, z, k, expect) in cases {
            let err = NewVolunteer::parse(a, p, r, l, z, k).err().unwrap().to_string();
            assert!(err.contains(expect), "{err:?} should mention {expect:?}");
        }
    }
}
