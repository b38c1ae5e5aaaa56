//! Ring latency under the provider's real limits: a release server against the
//! stand-in's provider model (REST-created calls placed at 1 per second after a
//! 150 ms round trip, `<Dial>` legs at once; see `tests/support/provider.rs`).
//! Callers ring in all at once on a one-language line with five volunteers per
//! caller on shift (five per tier); nobody answers, so every phone of each
//! first tier rings. For each caller, the time from ringing in to its first
//! volunteer phone ringing and to the last phone of its first tier ringing,
//! p50/p95/max; then the callers hang up. Then as many calls again, each
//! answered and put through, and on PostgreSQL (where each transaction that
//! writes takes a transaction id) how many write transactions each cost.
//!
//!     cargo bench --bench ringing                   # 5 and 50 callers, SQLite
//!     RINGING_CALLERS=5 cargo bench --bench ringing # one size
//!     QUIETLINE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!         cargo bench --bench ringing               # PostgreSQL, with the commits per call
//!
//! The stand-in runs in this process, on the same two cores as the server.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use quietline::roster::{self, NewVolunteer};
use support::provider::{CallerScript, Person, StandIn};
use support::{Backend, PUBLIC_URL, ServerProcess, TestEnv};

fn main() {
    let sizes: Vec<usize> = std::env::var("RINGING_CALLERS")
        .unwrap_or_else(|_| "5,50".into())
        .split(',')
        .map(|n| n.trim().parse().expect("RINGING_CALLERS: numbers"))
        .collect();
    let backend =
        if std::env::var("QUIETLINE_TEST_DATABASE_URL").is_ok() { Backend::Postgres } else { Backend::Sqlite };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        println!(
            "{:>8} {:>11} {:>28} {:>28} {:>14}",
            "callers", "volunteers", "first ring p50/p95/max s", "whole tier p50/p95/max s", "commits/call"
        );
        for callers in sizes {
            run(backend, callers).await;
        }
    });
}

async fn run(backend: Backend, callers: usize) {
    let volunteers = callers * 5;
    let env = TestEnv::new(backend).await;
    let standin = StandIn::start().await;
    let state = env.state().await;
    for i in 0..volunteers {
        let phone = format!("+1628{:07}", 3_000_000 + i);
        let new = NewVolunteer::parse(&format!("v{i}"), &phone, "dispatcher", "en", "north", None).unwrap();
        roster::add(&state.db, &state.vault, new).await.unwrap();
        roster::set_shift(&state.db, &format!("v{i}"), true).await.unwrap();
        standin.person(&phone, Person::NeverAnswers);
    }
    let mut vars = env.hotline_vars(&standin);
    vars.push(("QUIETLINE_LOG".into(), "warn,quietline::cli::server=info".into()));
    vars.push(("QUIETLINE_LANGUAGES".into(), "en".into()));
    // Long enough for the slowest first tier to ring to its last phone.
    vars.push(("QUIETLINE_RING_TIMEOUT".into(), "5m".into()));
    vars.push(("QUIETLINE_RING_PARALLEL".into(), "5".into()));
    vars.push(("QUIETLINE_SWEEP_INTERVAL".into(), "60s".into()));
    let server = ServerProcess::spawn(&vars, &["serve"]);
    standin.balance(PUBLIC_URL, &[format!("http://{}", server.addr)]);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sids: Vec<String> = (0..callers)
        .map(|i| standin.place_call(&format!("+1415{:07}", 4_000_000 + i), CallerScript::default()))
        .collect();
    // Until every phone of every caller's first tier has rung.
    let give_up = Instant::now() + Duration::from_secs(400);
    let (mut first, mut whole) = (Vec::new(), Vec::new());
    loop {
        first.clear();
        whole.clear();
        let calls = standin.calls();
        for sid in &sids {
            let placed = standin.call(sid).unwrap().placed_at;
            let Some(row) = quietline::store::calls::get_by_sid(state.db.pool(), sid).await.unwrap() else {
                continue;
            };
            let legs = quietline::store::calls::legs_of(state.db.pool(), row.id).await.unwrap();
            let tier0: Vec<(String, i64)> =
                legs.into_iter().filter(|l| l.tier == 0).map(|l| (l.sid, l.volunteer_id.unwrap_or(0))).collect();
            // A pending leg is found by its caller and dial at the stand-in.
            let rang: Vec<Duration> = calls
                .iter()
                .filter(|c| {
                    tier0.iter().any(|(leg, _)| *leg == c.sid)
                        || (tier0.iter().any(|(leg, _)| leg.starts_with("pending-"))
                            && c.parent.as_ref().is_some_and(|(p, round)| p == sid && *round == 1))
                })
                .filter_map(|c| c.rang_at.map(|at| at.saturating_duration_since(placed)))
                .collect();
            if !tier0.is_empty() && rang.len() >= tier0.len() {
                first.push(*rang.iter().min().unwrap());
                whole.push(*rang.iter().max().unwrap());
            }
        }
        if first.len() == callers || Instant::now() > give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for sid in &sids {
        standin.hang_up(sid).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Calls answered and put through, for the commits each costs.
    for i in 0..volunteers {
        standin.person(&format!("+1628{:07}", 3_000_000 + i), Person::PressesOne { answer_ms: 300, press_ms: 100 });
    }
    let before = env.write_transactions(&state).await;
    let answered: Vec<String> = (0..callers)
        .map(|i| {
            let script = CallerScript { gathers: vec![], talk_ms: 300 };
            standin.place_call(&format!("+1415{:07}", 5_000_000 + i), script)
        })
        .collect();
    let give_up = Instant::now() + Duration::from_secs(120);
    for sid in &answered {
        while standin.call(sid).is_none_or(|c| c.status != "completed") && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The last status callbacks.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = env.write_transactions(&state).await;

    let commits = match (before, after) {
        (Some(b), Some(a)) => format!("{:.1}", (a - b) as f64 / callers as f64),
        _ => "(PostgreSQL)".into(),
    };
    println!("{callers:>8} {volunteers:>11} {:>28} {:>28} {commits:>14}", quantiles(&mut first), quantiles(&mut whole));
    if first.len() < callers {
        println!("  ({} of {callers} callers had a phone ring)", first.len());
    }
    drop(server);
}

fn quantiles(samples: &mut [Duration]) -> String {
    if samples.is_empty() {
        return "-".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64();
    format!("{:.2} / {:.2} / {:.2}", at(0.50), at(0.95), at(1.0))
}
