//! The whole call flow under load, through the provider stand-in the tests use:
//! a release server with 1 000 volunteers on shift, callers ringing in at rising
//! rates. Each call is every webhook of a real one — incoming call, language
//! menu, the tier rung from the caller's leg (`<Dial>`, under the stand-in's
//! provider model), the volunteer's leg answering and pressing 1, the end of
//! the ringing, status callbacks. For each rate it prints the webhooks'
//! round-trip p50/p99 as the stand-in saw them and stops after the first rate
//! whose p99 passes 50 ms. Then, on a fresh server, a surge of 1 000 calls at
//! once: the server's peak RSS, how long until every caller had a phone
//! ringing, and (PostgreSQL) the write transactions per call.
//!
//!     cargo bench --bench callflow              # SQLite
//!     QUIETLINE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!         cargo bench --bench callflow          # then PostgreSQL as well
//!     CALLFLOW_SURGE_ONLY=1 cargo bench --bench callflow   # the surge alone
//!
//! The stand-in runs in this process, on the same two cores as the server: it
//! is the load generator.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use quietline::roster::{self, NewVolunteer};
use support::provider::{CallerScript, Person, StandIn};
use support::{Backend, PUBLIC_URL, ServerProcess, TestEnv};

const VOLUNTEERS: usize = 1000;
/// Every fourth volunteer: a large network's busiest hour.
const ON_SHIFT: usize = VOLUNTEERS / 4;
const STEP: Duration = Duration::from_secs(5);
const RATES: [u32; 8] = [10, 25, 50, 100, 150, 200, 300, 400];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        run(Backend::Sqlite).await;
        if std::env::var("QUIETLINE_TEST_DATABASE_URL").is_ok() {
            run(Backend::Postgres).await;
        } else {
            println!("(PostgreSQL skipped: QUIETLINE_TEST_DATABASE_URL is not set)");
        }
    });
}

async fn run(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let standin = StandIn::start().await;
    let state = env.state().await;
    for i in 0..VOLUNTEERS {
        let phone = format!("+1628{:07}", 2_000_000 + i);
        let language = if i % 3 == 0 { "es" } else { "en" };
        let new = NewVolunteer::parse(&format!("v{i}"), &phone, "dispatcher", language, "north", None).unwrap();
        roster::add(&state.db, &state.vault, new).await.unwrap();
        if i % 4 == 0 {
            roster::set_shift(&state.db, &format!("v{i}"), true).await.unwrap();
        }
        standin.person(&phone, Person::PressesOne { answer_ms: 300, press_ms: 200 });
    }
    let mut vars = env.hotline_vars(&standin);
    // Request lines off, as in the load scripts; the start line stays on (the
    // harness reads the address from it).
    vars.push(("QUIETLINE_LOG".into(), "warn,quietline::cli::server=info".into()));
    vars.push(("QUIETLINE_LANGUAGES".into(), "en,es".into()));
    vars.push(("QUIETLINE_RING_TIMEOUT".into(), "20s".into()));
    // The default: the harness's one-second sweeps would be a load of their own.
    vars.push(("QUIETLINE_SWEEP_INTERVAL".into(), "60s".into()));

    println!("\n== {} — {VOLUNTEERS} volunteers, {ON_SHIFT} on shift, calls of ~2 s each", backend_name(backend));
    let mut caller = 0u64;
    // CALLFLOW_SURGE_ONLY=1: the surge alone, a minute instead of several.
    let surge_only = std::env::var_os("CALLFLOW_SURGE_ONLY").is_some();
    if !surge_only {
        steps(&standin, &vars, &mut caller).await;
    }

    // The surge, on a fresh process so that its peak is its own.
    let server = start(&standin, &vars);
    let before = env.write_transactions(&state).await;
    let started = Instant::now();
    let sids: Vec<String> = (0..1000).map(|_| place(&standin, &mut caller)).collect();
    let row = finish(&standin, &sids, started).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = env.write_transactions(&state).await;
    let calls = standin.calls();
    let ringing: Vec<Duration> = sids
        .iter()
        .filter_map(|sid| {
            let placed = calls.iter().find(|c| &c.sid == sid)?.placed_at;
            calls
                .iter()
                .filter(|c| c.parent.as_ref().is_some_and(|(p, _)| p == sid))
                .filter_map(|c| c.rang_at)
                .min()
                .map(|at| at.saturating_duration_since(placed))
        })
        .collect();
    let events = standin.events();
    let fallback = sids
        .iter()
        .filter(|sid| events.iter().any(|e| e.starts_with(sid.as_str()) && e.contains("We cannot take your call")))
        .count();
    let voicemail =
        sids.iter().filter(|sid| events.iter().any(|e| e.starts_with(&format!("{sid} leaves a message")))).count();
    println!(
        "surge of 1000 calls at once: all ended after {:.1} s; {} webhooks, p50 {:.2} ms, p99 {:.2} ms; \
         {} answered, {voicemail} left a message, {fallback} heard the fallback; peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        row.webhooks,
        row.p50,
        row.p99,
        row.answered,
        status_kib(server.pid(), "VmHWM") as f64 / 1024.0
    );
    let slowest = ringing.iter().max().map_or(0.0, |d| d.as_secs_f64());
    println!(
        "  {} of 1000 callers had a phone ringing, the last {slowest:.1} s after ringing in{}",
        ringing.len(),
        match (before, after) {
            (Some(b), Some(a)) => format!("; {:.1} write transactions per call", (a - b) as f64 / 1000.0),
            _ => String::new(),
        }
    );
}

/// Calls at rising rates on one server, until the webhooks' p99 passes 50 ms.
async fn steps(standin: &StandIn, vars: &[(String, String)], caller: &mut u64) {
    let server = start(standin, vars);
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("idle RSS after start: {:.1} MiB", status_kib(server.pid(), "VmRSS") as f64 / 1024.0);
    println!("{:>8} {:>7} {:>9} {:>9} {:>9} {:>9}", "calls/s", "calls", "webhooks", "p50 ms", "p99 ms", "answered");
    let mut best = None;
    for rate in RATES {
        let row = step(standin, rate, caller).await;
        println!(
            "{rate:>8} {:>7} {:>9} {:>9.2} {:>9.2} {:>8.0}%",
            row.calls,
            row.webhooks,
            row.p50,
            row.p99,
            100.0 * row.answered as f64 / row.calls as f64
        );
        if row.p99 > 50.0 {
            break;
        }
        best = Some(rate);
    }
    match best {
        Some(rate) => println!("highest rate with webhook p99 <= 50 ms: {rate} calls/s"),
        None => println!("webhook p99 passed 50 ms at the lowest rate"),
    }
    println!("peak RSS over the steps: {:.1} MiB", status_kib(server.pid(), "VmHWM") as f64 / 1024.0);
}

fn start(standin: &StandIn, vars: &[(String, String)]) -> ServerProcess {
    let server = ServerProcess::spawn(vars, &["serve"]);
    standin.balance(PUBLIC_URL, &[format!("http://{}", server.addr)]);
    server
}

struct Row {
    calls: usize,
    webhooks: usize,
    p50: f64,
    p99: f64,
    answered: usize,
}

/// A caller from a number of their own: picks English, talks a second and a half.
fn place(standin: &StandIn, caller: &mut u64) -> String {
    *caller += 1;
    standin.place_call(
        &format!("+1415{:07}", 2_000_000 + *caller),
        CallerScript { gathers: vec![Some("1")], talk_ms: 1500 },
    )
}

/// Calls placed evenly at `rate` per second for [`STEP`], then waited for.
async fn step(standin: &StandIn, rate: u32, caller: &mut u64) -> Row {
    standin.take_latencies();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let mut sids = Vec::new();
    while started.elapsed() < STEP {
        tick.tick().await;
        sids.push(place(standin, caller));
    }
    finish(standin, &sids, started).await
}

async fn finish(standin: &StandIn, sids: &[String], started: Instant) -> Row {
    let give_up = started + Duration::from_secs(180);
    for sid in sids {
        while standin.call(sid).is_none_or(|c| c.status != "completed") && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let events = standin.events();
    let answered = sids.iter().filter(|sid| events.iter().any(|e| e.ends_with(&format!("bridged with {sid}")))).count();
    let mut latencies = standin.take_latencies();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Row { calls: sids.len(), webhooks: latencies.len(), p50: at(0.50), p99: at(0.99), answered }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}
