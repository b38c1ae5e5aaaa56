//! Integration tests. Each runs against SQLite and, with
//! `QUIETLINE_TEST_DATABASE_URL` set and `--include-ignored`, PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod accounts;
mod binary;
mod browser;
mod faults;
mod field;
mod first_hour;
mod health;
mod keys;
mod layout;
mod log_hygiene;
mod peers;
mod retention;
mod ringing;
mod roster;
mod scale;
mod security_accounts;
mod security_field;
mod vault;
mod voice;
