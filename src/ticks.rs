//! The keeping loop every instance runs: ring tiers and incident paging whose
//! time ran out move on every second, blocks follow the caller-token window,
//! the provider deletion queue is worked every five seconds, and the webhook
//! count reaches the log once an hour. (Old rate-limit attempts go with the
//! retention sweeper.)

use std::time::Duration;

use crate::AppState;

/// Runs until the task is dropped.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = crate::calls::escalate_due(&state).await {
            tracing::warn!(error = %e, "escalation pass failed");
        }
        if let Err(e) = crate::dispatch::escalate_due(&state).await {
            tracing::warn!(error = %e, "dispatch escalation pass failed");
        }
        if n % 3600 == 3599 {
            let (answered, failed) = state.webhooks.take();
            if answered > 0 {
                tracing::info!(count = answered, "provider webhooks answered in the last hour ({failed} failed)");
            }
        }
        if let Err(e) = crate::blocks::refresh(&state).await {
            tracing::warn!(error = %e, "carrying blocks into a new caller-token window failed");
        }
        if n.is_multiple_of(5) {
            crate::outbound::scrub(&state).await;
        }
        n += 1;
    }
}
