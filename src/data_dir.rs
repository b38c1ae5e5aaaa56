//! The data dir and its keystore: private directories (0700), created when
//! missing and tightened when others could read them.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::vault::KEYSTORE_DIR;

/// Why the data dir cannot be used, naming it.
#[derive(Debug, thiserror::Error)]
#[error("data dir {dir}: {why}")]
pub struct DataDirError {
    dir: String,
    why: String,
}

/// Creates the data dir and its keystore directory with 0700 permissions, or
/// tightens existing ones. Returns true when the keystore had to be created.
pub fn prepare(dir: &Path) -> Result<bool, DataDirError> {
    private(dir)?;
    let keystore = dir.join(KEYSTORE_DIR);
    let existed = keystore.is_dir();
    private(&keystore)?;
    Ok(!existed)
}

fn private(dir: &Path) -> Result<(), DataDirError> {
    let fail = |why: String| DataDirError { dir: dir.display().to_string(), why };
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(fail("not a directory".into())),
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| fail(e.to_string()))?;
                tracing::warn!(data_dir = %dir.display(), "directory was readable by others; set to 0700");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| fail(e.to_string()))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}
