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
