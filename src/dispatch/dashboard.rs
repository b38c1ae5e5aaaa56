//! The live picture for dispatchers: who is on shift, calls waiting and under
//! way, voicemail held, public text threads and open incidents. Read in a
//! fixed number of queries, however busy the hotline is.

use super::Result;
use super::views::{self, IncidentView};
use crate::AppState;
use crate::items::ItemClass;
use crate::roster;
use crate::states::{CallState, ThreadState};
use crate::store::{calls as call_db, intake as intake_db, items as item_db};

/// A public text thread: never the sender, never the texts, only that they exist.
pub struct ThreadView {
    pub id: i64,
    pub language: String,
    pub state: ThreadState,
    pub expires_at: i64,
    /// The sealed texts, oldest first.
    pub items: Vec<i64>,
}

/// Public text threads that have not expired, newest first.
pub async fn threads(state: &AppState) -> Result<Vec<ThreadView>> {
    let now = state.vault.clock().now().0;
    let threads = intake_db::list(state.db.pool(), now).await?;
    let ids: Vec<i64> = threads.iter().map(|t| t.id).collect();
    let texts = item_db::of_threads(state.db.pool(), &ids, ItemClass::Intake.as_str()).await?;
    Ok(threads
        .into_iter()
        .map(|t| ThreadView {
            items: texts.iter().filter(|(thread, _)| *thread == t.id).map(|(_, i)| i.id).collect(),
            id: t.id,
            language: t.language,
            state: t.state,
            expires_at: t.expires_at,
        })
        .collect())
}

pub struct Dashboard {
    pub on_shift: Vec<String>,
    pub calls_waiting: i64,
    pub calls_in_progress: i64,
    pub voicemails: i64,
    /// Voicemails no reader has fetched yet.
    pub unheard_voicemails: i64,
    pub threads: Vec<ThreadView>,
    pub open_incidents: Vec<IncidentView>,
}

impl Dashboard {
    /// Text threads waiting for a reply.
    pub fn open_text_threads(&self) -> usize {
        self.threads.iter().filter(|t| t.state == ThreadState::Open).count()
    }

    /// Open incidents that still want observers.
    pub fn wanting_observers(&self) -> impl Iterator<Item = &IncidentView> {
        self.open_incidents.iter().filter(|i| i.assigned < i.needed)
    }
}

pub async fn dashboard(state: &AppState) -> Result<Dashboard> {
    let now = state.vault.clock().now().0;
    let pool = state.db.pool();
    let roster = roster::list(&state.db).await?;
    Ok(Dashboard {
        on_shift: roster.iter().filter(|v| v.on_shift).map(|v| v.alias.to_string()).collect(),
        calls_waiting: call_db::count_in_state(pool, CallState::Ringing).await?,
        calls_in_progress: call_db::count_in_state(pool, CallState::Bridged).await?,
        voicemails: item_db::count_live(pool, ItemClass::Voicemail.as_str(), now).await?,
        unheard_voicemails: item_db::count_unopened(pool, ItemClass::Voicemail.as_str(), now).await?,
        threads: threads(state).await?,
        open_incidents: views::open_incidents(state).await?,
    })
}
