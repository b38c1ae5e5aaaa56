//! What a signed-in volunteer asks of an incident by name, from a console form
//! or the API: a dispatcher's change of status, an observer's answer.

use super::{Accepted, DispatchError, Result};
use crate::AppState;
use crate::audit::Actor;
use crate::roster::Volunteer;

/// A dispatcher's change of an incident's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Verify,
    Close,
    FalseAlarm,
}

impl StatusChange {
    pub fn parse(name: &str) -> Result<StatusChange> {
        match name {
            "verify" => Ok(StatusChange::Verify),
            "close" => Ok(StatusChange::Close),
            "false_alarm" => Ok(StatusChange::FalseAlarm),
            _ => Err(DispatchError::Invalid("action must be verify, close or false_alarm".into())),
        }
    }
}

pub async fn change_status(state: &AppState, id: i64, change: StatusChange, by: Actor<'_>) -> Result<()> {
    match change {
        StatusChange::Verify => super::verify(state, id, by).await,
        StatusChange::Close => super::close(state, id, false, by).await.map(|_| ()),
        StatusChange::FalseAlarm => super::close(state, id, true, by).await.map(|_| ()),
    }
}

/// An observer's answer to a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
    Arrive,
    Leave,
}

impl Answer {
    pub fn parse(name: &str) -> Result<Answer> {
        match name {
            "accept" => Ok(Answer::Accept),
            "decline" => Ok(Answer::Decline),
            "arrive" => Ok(Answer::Arrive),
            "leave" => Ok(Answer::Leave),
            _ => Err(DispatchError::Invalid("action must be accept, decline, arrive or leave".into())),
        }
    }
}

/// An accept that finds every slot taken is refused with [`DispatchError::Covered`].
pub async fn answer(state: &AppState, id: i64, who: &Volunteer, answer: Answer) -> Result<()> {
    match answer {
        Answer::Accept => match super::accept(state, id, who).await? {
            Accepted::Covered => Err(DispatchError::Covered(id)),
            Accepted::Assigned { .. } | Accepted::Already => Ok(()),
        },
        Answer::Decline => super::decline(state, id, who).await,
        Answer::Arrive => super::arrive_or_leave(state, id, who, true).await,
        Answer::Leave => super::arrive_or_leave(state, id, who, false).await,
    }
}
