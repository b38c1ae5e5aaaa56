//! Reading and writing in the browser, end to end: the server and the provider
//! stand-in here, Debian's Chromium driven by playwright-core in
//! `tests/browser/devices.mjs`, and the reference `age` CLI as the independent
//! reader. The walk enrolls, makes its key in the page, opens a voicemail and a
//! public text, seals a field note and reads it back; this side then checks that
//! the attorney's `age -d` opens that note, that `age -d` opens the key backup
//! with its passphrase, and that the private key and every plaintext of the walk
//! are in no request the browser sent, no log line, no database file and no
//! keystore file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

use quietline::items::{self, Content, ItemClass};
use quietline::roster;

use crate::both;
use crate::support::line::{Line, line_with};
use crate::support::provider::{CallerScript, Person};
use crate::support::{Backend, captured_log, database_bytes, holds};

const CALLER: &str = "+14155550177";
const PUBLIC: &str = "+14155550188";
const PUBLIC_TEXT: &str = "Hay una redada en la lavandería de la calle 5, vengan rápido";
const PASSPHRASE: &str = "harbor quilt seventy lantern";

/// A field note of about 2 KiB, as an observer writes one after a raid.
fn note_text() -> String {
    let line = "Two unmarked vans at the laundromat on 5th; agents at both doors, one with a clipboard. ";
    line.repeat(24).trim_end().to_string()
}

/// `seconds` of an 8 kHz mono 16-bit WAV, as the provider records voicemail: a
/// tone whose pitch moves, so that no two seconds are the same bytes.
fn wav(seconds: u32) -> Vec<u8> {
    let rate = 8000u32;
    let samples = rate * seconds;
    let mut out = Vec::with_capacity(44 + 2 * samples as usize);
    out.extend(b"RIFF");
    out.extend((36 + 2 * samples).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend((rate * 2).to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend((2 * samples).to_le_bytes());
    for i in 0..samples {
        let t = f64::from(i) / f64::from(rate);
        let v = (8000.0 * (2.0 * std::f64::consts::PI * (300.0 + 40.0 * t) * t).sin()) as i16;
        out.extend(v.to_le_bytes());
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the walk needs, named when it is missing (scripts/test installs it).
fn chromium() -> PathBuf {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(chromium.exists(), "{} is missing: install Debian's chromium (scripts/test does)", chromium.display());
    assert!(
        repo().join("tests/browser/node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test does)"
    );
    chromium
}

/// The walk's side of the conversation.
struct Walk {
    child: tokio::process::Child,
    to: ChildStdin,
    from: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Walk {
    /// The next `QL <word> …` line, with what follows the word.
    async fn expect(&mut self, word: &str) -> Vec<String> {
        let wait = async {
            while let Some(line) = self.from.next_line().await.unwrap() {
                eprintln!("walk: {line}");
                self.seen.push(line.clone());
                let parts: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                if parts.first().map(String::as_str) == Some("QL") {
                    if parts.get(1).map(String::as_str) == Some(word) {
                        return Some(parts[2..].to_vec());
                    }
                    if !matches!(parts.get(1).map(String::as_str), Some("timing" | "backup")) {
                        return None;
                    }
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_secs(300), wait).await {
            Ok(Some(rest)) => rest,
            _ => {
                let status = self.child.try_wait().ok().flatten();
                panic!("the walk did not say {word:?} (exit {status:?}):\n{}", self.seen.join("\n"));
            }
        }
    }

    async fn tell(&mut self, line: &str) {
        self.to.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.to.flush().await.unwrap();
    }

    fn said(&self, word: &str) -> Option<String> {
        let prefix = format!("QL {word} ");
        self.seen.iter().find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }
}

/// The reference CLI asks for a passphrase on a terminal only: `script`
/// (util-linux) gives it one, the passphrase typed ahead.
fn age_decrypt_with_passphrase(file: &Path, out: &Path) {
    let command = format!("age -d -o '{}' '{}'", out.display(), file.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) and age are installed");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{PASSPHRASE}\n").as_bytes()).unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "age -d of the backup: {}", String::from_utf8_lossy(&done.stdout));
}

fn keystore_bytes(line: &Line) -> Vec<u8> {
    let mut bytes = Vec::new();
    let dir = line.env.data_dir().join(quietline::vault::KEYSTORE_DIR);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "the keystore holds keys");
    bytes
}

async fn item_of(line: &Line, alias: &str, class: ItemClass) -> i64 {
    for _ in 0..200 {
        let v = roster::get(&line.state.db, alias).await.unwrap();
        let now = line.state.vault.clock().now();
        let found =
            items::readable_by(&line.state.db, &v, now).await.unwrap().into_iter().find(|i| i.class == class.as_str());
        if let Some(item) = found {
            return item.id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {} for {alias}; events:\n{}", class.as_str(), line.standin.events().join("\n"));
}

both!(the_browser_makes_the_key_opens_voicemail_and_texts_and_seals_notes);
async fn the_browser_makes_the_key_opens_voicemail_and_texts_and_seals_notes(backend: Backend) {
    let chromium = chromium();
    let line = line_with(backend, "en", &[("QUIETLINE_ZONES", "north")]).await;
    // The browser computes its authenticator codes on the real clock.
    let behind = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
        - line.state.vault.clock().now().0;
    line.env.clock.advance(Duration::from_secs(behind.max(0) as u64 + 1));

    let out = line
        .cli(&[
            "volunteer",
            "add",
            "--alias",
            "ana",
            "--phone",
            "+14155550101",
            "--roles",
            "dispatcher",
            "--languages",
            "en",
            "--zones",
            "north",
        ])
        .await
        .unwrap();
    let code = out
        .lines()
        .find_map(|l| l.strip_prefix("enrollment code for ana: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an enrollment code")
        .to_string();
    line.cli(&["shift", "on", "ana"]).await.unwrap();
    line.standin.person("+14155550101", Person::NeverAnswers);
    // The attorney reads with a key file from the reference CLI.
    let bob_key = line.env.dir.path().join("bob.key");
    let made = std::process::Command::new("age-keygen").arg("-o").arg(&bob_key).output().expect("age-keygen");
    assert!(made.status.success());
    let bob_public = std::fs::read_to_string(&bob_key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    line.env.add_volunteer("bob", "+14155550102", "attorney", "en", Some(&bob_public)).await;

    let shots = repo().join(format!("target/browser/devices-{backend:?}").to_lowercase());
    let note = note_text();
    let base = line.url.replace("127.0.0.1", "localhost");
    let mut child = tokio::process::Command::new("node")
        .arg("tests/browser/devices.mjs")
        .current_dir(repo())
        .env("BASE", &base)
        .env("ALIAS", "ana")
        .env("CODE", &code)
        .env("PASSPHRASE", PASSPHRASE)
        .env("NOTE_TEXT", &note)
        .env("PUBLIC_TEXT", PUBLIC_TEXT)
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (install Debian's npm; scripts/test does)");
    let to = child.stdin.take().unwrap();
    let from = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut walk = Walk { child, to, from, seen: Vec::new() };

    // The browser made a key and registered its public half, nothing else.
    let recipient = walk.expect("key").await.remove(0);
    let ana = roster::get(&line.state.db, "ana").await.unwrap();
    let registered = quietline::keys::list(&line.state, &ana).await.unwrap();
    assert_eq!(registered.iter().map(|k| k.recipient.as_str()).collect::<Vec<_>>(), [recipient.as_str()]);

    // A one-minute voicemail, a public text, an item sealed to another key, and
    // one about to expire, all for ana.
    let audio = wav(60);
    line.standin.callers_say(audio.clone());
    let sid = line.standin.place_call(CALLER, CallerScript { gathers: vec![None], talk_ms: 0 });
    line.until("ana's phone rings", |s| s.calls().iter().any(|c| c.to == "+14155550101")).await;
    line.env.clock.advance(Duration::from_secs(31));
    line.until_ended(&sid).await;
    let voicemail = item_of(&line, "ana", ItemClass::Voicemail).await;
    line.standin.text(PUBLIC, PUBLIC_TEXT).await;
    let text = item_of(&line, "ana", ItemClass::Intake).await;
    let ana = roster::get(&line.state.db, "ana").await.unwrap();
    let elsewhere = {
        let stranger = age::x25519::Identity::generate().to_public();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&stranger as &dyn age::Recipient)).unwrap();
        let mut sealed = Vec::new();
        let mut w = encryptor.wrap_output(&mut sealed).unwrap();
        std::io::Write::write_all(&mut w, b"for another device").unwrap();
        w.finish().unwrap();
        let life = Duration::from_secs(3600);
        items::store(&line.state.db, &line.state.vault, ItemClass::Note, Content::Age(&sealed), &[&ana], life)
            .await
            .unwrap()
            .id
    };
    let life = Duration::from_secs(600);
    let expiring = items::store(
        &line.state.db,
        &line.state.vault,
        ItemClass::Note,
        Content::Plaintext(b"soon gone"),
        &[&ana],
        life,
    )
    .await
    .unwrap()
    .id;
    walk.tell(&format!("items {voicemail} {text} {elsewhere} {expiring} {}", sha256_hex(&audio))).await;

    let note_id: i64 = walk.expect("note").await[0].parse().unwrap();
    let items_before = quietline::store::items::count(line.state.db.pool()).await.unwrap();
    walk.expect("expiring").await;
    line.env.clock.advance(Duration::from_secs(601));
    walk.tell("expired").await;
    let requests = PathBuf::from(walk.expect("requests").await.remove(0));
    walk.expect("done").await;
    let status = walk.child.wait().await.unwrap();
    assert!(status.success(), "the walk failed:\n{}", walk.seen.join("\n"));
    for timing in walk.seen.iter().filter(|l| l.starts_with("QL timing ")) {
        eprintln!("browser {timing} ms ({backend:?})");
    }

    // Bad input changed nothing: one key, no item stored by it.
    let ana = roster::get(&line.state.db, "ana").await.unwrap();
    assert_eq!(quietline::keys::list(&line.state, &ana).await.unwrap().len(), 1);
    assert_eq!(quietline::store::items::count(line.state.db.pool()).await.unwrap(), items_before);

    // The attorney opens the note sealed in the page with the reference CLI.
    let sealed = items::ciphertext(&line.state.db, &line.state.vault, note_id).await.unwrap();
    let file = line.env.dir.path().join("note.age");
    std::fs::write(&file, &sealed).unwrap();
    let opened = std::process::Command::new("age").arg("-d").arg("-i").arg(&bob_key).arg(&file).output().unwrap();
    assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
    assert_eq!(String::from_utf8(opened.stdout).unwrap(), note);

    // The backup opens with its passphrase: an identity file for this key.
    let backup = PathBuf::from(walk.said("backup").expect("the backup was saved"));
    let restored = line.env.dir.path().join("restored.txt");
    age_decrypt_with_passphrase(&repo().join(&backup), &restored);
    let identity = std::fs::read_to_string(&restored).unwrap();
    assert!(identity.contains(&format!("# public key: {recipient}")), "{identity}");
    let secret = identity.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")).expect("the private key").to_string();

    // The private key and every plaintext: in no request, log, database or keystore.
    let sent = std::fs::read(repo().join(&requests)).unwrap();
    assert!(holds(&sent, "/api/v1/me/keys") && holds(&sent, &recipient), "the requests were recorded");
    let db = database_bytes(&line.env, &line.state).await;
    let keystore = keystore_bytes(&line);
    let log = captured_log();
    let first_line = note.split(". ").next().unwrap().to_string();
    for canary in [secret.as_str(), &secret.to_lowercase(), &first_line, PUBLIC_TEXT, "soon gone"] {
        assert!(!holds(&sent, canary), "a request the browser sent holds {canary:?}");
        assert!(!log.contains(canary), "the server log holds {canary:?}");
        assert!(!holds(&db, canary), "the database holds {canary:?}");
        assert!(!holds(&keystore, canary), "the keystore holds {canary:?}");
    }
}
