//! The log never carries phone numbers, client addresses or content, whatever a
//! request holds.

use crate::both;
use crate::support::{Backend, TestEnv, http};

const NUMBER: &str = "+14155550123";
const DIGITS: &str = "4155550123";
const IP: &str = "203.0.113.77";
const NOTE: &str = "Two ICE vans at the corner of Fifth and Main";

both!(logs_hold_no_numbers_addresses_or_content);
async fn logs_hold_no_numbers_addresses_or_content(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut server = env.spawn_server();
    let headers = [
        ("X-Forwarded-For", IP),
        ("X-Real-IP", IP),
        ("Forwarded", "for=203.0.113.77"),
        ("X-Twilio-Signature", "c2lnbmF0dXJl"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("User-Agent", NOTE),
    ];
    let body = format!("From=%2B{DIGITS}&Body={}", NOTE.replace(' ', "+"));
    let note_path = NOTE.replace(' ', "%20");
    let paths = [
        format!("/healthz?From=%2B{DIGITS}&note={note_path}"),
        format!("/readyz?caller={NUMBER}"),
        format!("/telephony/voice/{NUMBER}"),
        format!("/notes/{note_path}"),
    ];
    for path in &paths {
        for method in ["GET", "POST"] {
            http(server.addr, method, path, &headers, &body);
        }
    }
    let status = server.terminate();
    assert!(status.success());
    let log = server.log();

    // The log did record the requests, so the check below can fail.
    assert!(log.contains("route=/healthz"), "{log}");
    assert!(log.contains("route=/readyz"), "{log}");
    assert!(log.contains("route=<unmatched>"), "{log}");
    assert!(log.contains("status=404"), "{log}");

    for canary in [NUMBER, DIGITS, "%2B14155550123", IP, NOTE, "Fifth", "c2lnbmF0dXJl", "/telephony/voice/"] {
        assert!(!log.contains(canary), "log contains {canary:?}:\n{log}");
    }
}

both!(admin_commands_do_not_print_numbers);
async fn admin_commands_do_not_print_numbers(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let add = env.run_binary(
        &[
            "volunteer",
            "add",
            "--alias",
            "maria",
            "--phone",
            NUMBER,
            "--roles",
            "dispatcher",
            "--languages",
            "en",
            "--zones",
            "north",
        ],
        &[],
    );
    assert!(add.status.success(), "{}", add.stderr);
    let list = env.run_binary(&["volunteer", "list"], &[]);
    let json = env.run_binary(&["volunteer", "list", "--json"], &[]);
    let dup = env.run_binary(
        &[
            "volunteer",
            "add",
            "--alias",
            "other",
            "--phone",
            NUMBER,
            "--roles",
            "dispatcher",
            "--languages",
            "en",
            "--zones",
            "north",
        ],
        &[],
    );
    assert!(!dup.status.success());
    assert!(list.stdout.contains("maria"));
    for out in [&add, &list, &json, &dup] {
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(DIGITS), "output shows the number: {text}");
        }
    }
}

both!(a_whole_call_leaves_no_number_in_the_log);
async fn a_whole_call_leaves_no_number_in_the_log(backend: Backend) {
    use crate::support::provider::{self, CallerScript, Person, StandIn};
    let env = TestEnv::new(backend).await;
    let standin = StandIn::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    standin.set_server(&url);
    let volunteer = "+14155550166";
    standin.person(volunteer, Person::PressesOne { answer_ms: 20, press_ms: 20 });
    let mut env_vars = env.env();
    env_vars.retain(|(k, _)| k != "QUIETLINE_LISTEN");
    for (k, v) in [
        ("QUIETLINE_LISTEN", format!("127.0.0.1:{port}")),
        ("QUIETLINE_PUBLIC_URL", url.clone()),
        ("QUIETLINE_HOTLINE_NUMBER", provider::HOTLINE.to_string()),
        ("QUIETLINE_PROVIDER_ACCOUNT_SID", provider::ACCOUNT_SID.to_string()),
        ("QUIETLINE_PROVIDER_AUTH_TOKEN", provider::AUTH_TOKEN.to_string()),
        ("QUIETLINE_PROVIDER_API_BASE", standin.base.clone()),
        ("QUIETLINE_LANGUAGES", "en,es".to_string()),
        // At debug level, where each webhook gets its own line: the hardest case.
        ("QUIETLINE_LOG", "debug".to_string()),
    ] {
        env_vars.push((k.to_string(), v));
    }
    let mut server = crate::support::ServerProcess::spawn(&env_vars, &["serve"]);
    let add = env.run_binary(
        &[
            "volunteer",
            "add",
            "--alias",
            "ana",
            "--phone",
            volunteer,
            "--roles",
            "dispatcher",
            "--languages",
            "es",
            "--zones",
            "north",
        ],
        &[],
    );
    assert!(add.status.success(), "{}", add.stderr);
    assert!(env.run_binary(&["shift", "on", "ana"], &[]).status.success());

    // One call answered, one left as a voicemail with a call-back request.
    let answered = standin.place_call(NUMBER, CallerScript { gathers: vec![Some("2")], talk_ms: 50 });
    wait_for(&standin, &answered).await;
    assert!(env.run_binary(&["shift", "off", "ana"], &[]).status.success());
    let voicemail =
        standin.place_call("+14155550188", CallerScript { gathers: vec![Some("1"), Some("1")], talk_ms: 0 });
    wait_for(&standin, &voicemail).await;
    let delivered = crate::support::eventually(|| async {
        standin.events().iter().any(|e| e.starts_with("recording") && e.ends_with("delivered"))
    })
    .await;
    let events = standin.events().join("\n");
    assert!(delivered, "{events}");
    assert!(events.contains("bridged with"), "{events}");
    assert!(events.contains("leaves a message"), "{events}");

    assert!(server.terminate().success());
    let log = server.log();
    assert!(log.contains("route=/telephony/voice"), "{log}");
    assert!(log.contains("call answered by a volunteer"), "{log}");
    for canary in [NUMBER, DIGITS, "4155550188", "4155550166", &answered, &voicemail, "SAN FRANCISCO", "RE0000"] {
        assert!(!log.contains(canary), "log contains {canary:?}:\n{log}");
    }
}

async fn wait_for(standin: &crate::support::provider::StandIn, sid: &str) {
    let ended =
        crate::support::eventually(|| async { standin.call(sid).is_some_and(|c| c.status == "completed") }).await;
    assert!(ended, "call did not end: {}", standin.events().join("\n"));
}
