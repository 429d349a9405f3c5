//! One error mapping for the whole store: busy/locked → [`StoreError::Locked`],
//! not-a-database/corrupt → [`StoreError::Corrupt`] (by SQLite error code,
//! never by message text); a stored value this build does not know is
//! [`StoreError::BadValue`], never silently replaced.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::SCHEMA_VERSION;

/// Store errors: each says what failed and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the database longer than the busy timeout.
    #[error("database {path} is locked by another process (waited {waited_ms} ms)")]
    Locked {
        /// The file.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The database was written by a newer certwatch.
    #[error("database {path} has schema version {found}, newer than this certwatch supports ({SCHEMA_VERSION}); upgrade certwatch")]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The file or its directory cannot be created, read or written.
    #[error("cannot open database {path}: {detail}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The file is not a database, or is damaged.
    #[error("database {path} is damaged: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// A stored value this certwatch does not know (written by a newer one, or damaged).
    #[error("database {path}: unknown stored value: {detail}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Which column and value.
        detail: String,
    },
    /// Any other SQLite failure.
    #[error("database {path}: {detail}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// Maps a rusqlite error for the database at `path`.
pub(super) fn map_err(path: &Path, busy_ms: u64, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Locked {
                    path: path.to_path_buf(),
                    waited_ms: busy_ms,
                }
            }
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                }
            }
            _ => {}
        }
    }
    if let rusqlite::Error::FromSqlConversionFailure(col, _, inner) = &e {
        return StoreError::BadValue {
            path: path.to_path_buf(),
            detail: format!("column {col}: {inner}"),
        };
    }
    StoreError::Sqlite {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}
