//! The pure work of answering a call: checking the provider's signature on an
//! incoming-call form, rendering the TwiML we answer with, and choosing whom to
//! ring from a roster of 1 000 volunteers.
//!
//!     cargo bench --bench webhook

use std::collections::HashSet;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use quietline::flow::{Callback, Step, Voice};
use quietline::language::{Language, Speech};
use quietline::roster;
use quietline::routing::{next_tier, tier};
use quietline::store::Db;
use quietline::store::volunteers::{self, VolunteerRow};
use quietline::telephony::signature::{sign, verify_form};
use quietline::telephony::twiml::Twiml;

fn signature(c: &mut Criterion) {
    let token = b"0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let url = "https://hotline.example.org/telephony/voice";
    // Every parameter the provider posts for an incoming call (CallToken aside).
    let form: Vec<(String, String)> = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CAfedcba9876543210fedcba9876543210"),
        ("CallStatus", "ringing"),
        ("Called", "+14155550100"),
        ("CalledCity", "SAN FRANCISCO"),
        ("CalledCountry", "US"),
        ("CalledState", "CA"),
        ("CalledZip", "94103"),
        ("Caller", "+15105550123"),
        ("CallerCity", "OAKLAND"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94612"),
        ("Direction", "inbound"),
        ("From", "+15105550123"),
        ("FromCity", "OAKLAND"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94612"),
        ("StirVerstat", "TN-Validation-Passed-A"),
        ("To", "+14155550100"),
        ("ToCity", "SAN FRANCISCO"),
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("ToZip", "94103"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let good = sign(token, url, &form);
    // Well-formed but from another token: it is checked against both port
    // variants of the URL, so a forgery costs about twice a valid request.
    let forged = sign(b"not the auth token", url, &form);
    assert!(verify_form(token, url, &form, &good) && !verify_form(token, url, &form, &forged));

    let mut group = c.benchmark_group(format!("verify incoming-call form ({} params)", form.len()));
    group.bench_function("valid", |b| b.iter(|| black_box(verify_form(token, url, &form, &good))));
    group.bench_function("forged", |b| b.iter(|| black_box(verify_form(token, url, &form, &forged))));
    group.finish();
}

fn twiml(c: &mut Criterion) {
    // The two-language menu of `calls::menu_or_ring`, with the built-in prompts.
    let base = "https://hotline.example.org";
    let then = Callback::Language { call: 42, attempt: 1 };
    let prompts = ["en", "es"]
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let s = Speech::builtin(&Language::parse(code).unwrap());
            Step::Say { voice: s.voice, text: s.menu_option.replace("{digit}", &(i + 1).to_string()) }
        })
        .collect();
    let menu =
        Voice::new().then(Step::Gather { then, digits: 1, timeout: 5, prompts }).then(Step::Redirect { to: then });
    // What a refused caller hears.
    let en = Speech::builtin(&Language::parse("en").unwrap());
    let refusal = Voice::new().say(&en.voice, &en.unavailable).hangup();

    let mut group = c.benchmark_group("render TwiML");
    group.bench_function("language menu", |b| b.iter(|| black_box(Twiml::voice(&menu, base))));
    group.bench_function("say + hangup", |b| b.iter(|| black_box(Twiml::voice(&refusal, base))));
    group.finish();
}

/// 1 000 volunteers, read back through `roster::list` as the server does: a
/// `Volunteer` can only come from the store (its sealed number is private).
fn roster_of_1000() -> Vec<roster::Volunteer> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = Db::connect(&url.into()).await.unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        for i in 0..1000 {
            // Coprime moduli, so that role, languages and shift mix independently.
            let roles = match i % 9 {
                0 => "coordinator",
                1 | 2 => "observer",
                _ => "dispatcher",
            };
            let languages = match i % 10 {
                0..=3 => "en,es",
                4 => "en,ht",
                5 => "es",
                6 => "en,vi",
                _ => "en",
            };
            let row = VolunteerRow {
                id: 0,
                alias: format!("v{i}"),
                // Routing never unseals a number.
                phone_sealed: Vec::new(),
                phone_lookup: format!("lookup-{i}"),
                roles: roles.into(),
                languages: languages.into(),
                zones: "north".into(),
                on_shift: i % 7 < 2,
                overflow: i % 11 == 0,
                recipients: None,
                revoked: false,
            };
            volunteers::insert(&mut *tx, &row).await.unwrap();
        }
        tx.commit().await.unwrap();
        roster::list(&db).await.unwrap()
    })
}

fn routing(c: &mut Criterion) {
    let roster = roster_of_1000();
    // Haitian Creole: spoken by 1 in 10, so tier 0 scans a good part of the roster.
    let caller = Language::parse("ht").unwrap();
    let max = 5; // the default `ring_parallel`
    let none = HashSet::new();
    // Two of those who would be rung first are already on a call.
    let busy: HashSet<i64> = tier(&roster, 0, &caller, &none, &none, 2).iter().map(|v| v.id).collect();
    let first = tier(&roster, 0, &caller, &busy, &none, max);
    let rung: HashSet<i64> = first.iter().map(|v| v.id).collect();
    assert_eq!(first.len(), max);

    let mut group = c.benchmark_group("route a call over 1000 volunteers");
    group.bench_function("first tier", |b| b.iter(|| black_box(next_tier(&roster, 0, &caller, &busy, &none, max))));
    // Nobody in the first tier answered: the escalation skips them.
    group.bench_function("next tier", |b| b.iter(|| black_box(next_tier(&roster, 1, &caller, &busy, &rung, max))));
    group.finish();
}

criterion_group!(benches, signature, twiml, routing);
criterion_main!(benches);
