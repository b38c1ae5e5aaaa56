//! Sealing cost: a 2 KiB note sealed (age to the readers, then the epoch layer)
//! next to bare age encryption of the same note, for 1 and 5 readers; opening
//! the epoch layer; a caller token with the chosen parameters and the others
//! considered, and a surge of 1 000 new callers' tokens computed as the server
//! computes them (two at a time, off the async threads).
//!
//!     cargo bench --bench vault

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use quietline::clock::Clock;
use quietline::phone::PhoneNumber;
use std::sync::Arc;

use quietline::vault::{AgeRecipient, CallerToken, KEYSTORE_DIR, Vault};

fn recipients(n: usize) -> Vec<AgeRecipient> {
    (0..n).map(|_| AgeRecipient::parse(&age::x25519::Identity::generate().to_public().to_string()).unwrap()).collect()
}

fn bare_age(note: &[u8], readers: &[age::x25519::Recipient]) -> Vec<u8> {
    use std::io::Write;
    let encryptor = age::Encryptor::with_recipients(readers.iter().map(|r| r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::with_capacity(note.len() + 512);
    let mut w = encryptor.wrap_output(&mut out).unwrap();
    w.write_all(note).unwrap();
    w.finish().unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(KEYSTORE_DIR)).unwrap();
    let clock = Clock::system();
    let vault = Vault::open(dir.path(), None, Duration::from_secs(86_400), clock.clone()).unwrap();
    let note = vec![b'n'; 2048];
    let expires = clock.now().plus(Duration::from_secs(30 * 86_400));

    let mut group = c.benchmark_group("seal 2 KiB note");
    for n in [1usize, 5] {
        let ours = recipients(n);
        let bare: Vec<age::x25519::Recipient> = ours.iter().map(|r| r.as_str().parse().unwrap()).collect();
        group.bench_function(format!("bare age, {n} reader(s)"), |b| b.iter(|| black_box(bare_age(&note, &bare))));
        group.bench_function(format!("vault seal, {n} reader(s)"), |b| {
            b.iter(|| black_box(vault.seal(&note, &ours, expires).unwrap()))
        });
    }
    group.finish();

    let sealed = vault.seal(&note, &recipients(1), expires).unwrap();
    c.bench_function("remove epoch layer of a 2 KiB note", |b| {
        b.iter(|| black_box(vault.age_ciphertext(&sealed).unwrap()))
    });
    let number = PhoneNumber::parse("+14155550123").unwrap();
    c.bench_function("caller token", |b| b.iter(|| black_box(vault.caller_token(&number).unwrap())));

    // The parameters considered for the token: memory (KiB) and passes.
    let key = [7u8; 32];
    let mut group = c.benchmark_group("caller token, argon2id");
    group.sample_size(20);
    for (memory, passes) in [(1024, 1), (2048, 1), (4096, 1), (8192, 1), (4096, 2), (16_384, 1)] {
        group.bench_function(format!("{} MiB, {passes} pass(es)", memory / 1024), |b| {
            b.iter(|| black_box(CallerToken::compute_with(&key, "+14155550123", memory, passes)))
        });
    }
    group.finish();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let vault = Arc::new(vault);
    let numbers: Vec<PhoneNumber> =
        (0..1000).map(|i| PhoneNumber::parse(&format!("+1415555{:04}", i)).unwrap()).collect();
    let mut group = c.benchmark_group("surge");
    group.sample_size(10);
    group.bench_function("1 000 new callers' tokens", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = numbers
                    .iter()
                    .map(|n| {
                        let (vault, n) = (vault.clone(), n.clone());
                        tokio::spawn(async move { vault.caller_token_off_thread(&n).await.unwrap() })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.unwrap());
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
