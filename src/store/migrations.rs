//! The migrations, embedded in the binary. Both backends carry the same versions
//! and names; a test checks that this list matches the files on disk.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// `(version, name, sql)` for SQLite.
pub const MIGRATIONS_SQLITE: &[(i64, &str, &str)] = &[
    (1, "roster", include_str!("../../migrations/sqlite/0001_roster.sql")),
    (2, "vault", include_str!("../../migrations/sqlite/0002_vault.sql")),
    (3, "voice", include_str!("../../migrations/sqlite/0003_voice.sql")),
    (4, "retention", include_str!("../../migrations/sqlite/0004_retention.sql")),
    (5, "field", include_str!("../../migrations/sqlite/0005_field.sql")),
    (6, "accounts", include_str!("../../migrations/sqlite/0006_accounts.sql")),
    (7, "security", include_str!("../../migrations/sqlite/0007_security.sql")),
    (8, "device_keys", include_str!("../../migrations/sqlite/0008_device_keys.sql")),
    (9, "attention", include_str!("../../migrations/sqlite/0009_attention.sql")),
];

/// `(version, name, sql)` for PostgreSQL.
pub const MIGRATIONS_POSTGRES: &[(i64, &str, &str)] = &[
    (1, "roster", include_str!("../../migrations/postgres/0001_roster.sql")),
    (2, "vault", include_str!("../../migrations/postgres/0002_vault.sql")),
    (3, "voice", include_str!("../../migrations/postgres/0003_voice.sql")),
    (4, "retention", include_str!("../../migrations/postgres/0004_retention.sql")),
    (5, "field", include_str!("../../migrations/postgres/0005_field.sql")),
    (6, "accounts", include_str!("../../migrations/postgres/0006_accounts.sql")),
    (7, "security", include_str!("../../migrations/postgres/0007_security.sql")),
    (8, "device_keys", include_str!("../../migrations/postgres/0008_device_keys.sql")),
    (9, "attention", include_str!("../../migrations/postgres/0009_attention.sql")),
];

pub(super) fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    };
    Migrator::with_migrations(
        list.iter()
            .map(|(version, name, sql)| {
                Migration::new(*version, Cow::Borrowed(*name), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn listed(list: &[(i64, &str, &str)]) -> Vec<String> {
        list.iter().map(|(v, n, _)| format!("{v:04}_{n}.sql")).collect()
    }

    #[test]
    fn embedded_lists_match_the_files_and_each_other() {
        assert_eq!(listed(MIGRATIONS_SQLITE), on_disk("sqlite"));
        assert_eq!(listed(MIGRATIONS_POSTGRES), on_disk("postgres"));
        assert_eq!(on_disk("sqlite"), on_disk("postgres"));
    }
}
