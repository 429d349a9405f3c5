//! Store module `ct_tail`: where `certwatch ct tail` stands in each log
//! (its own append-only migrations): the last verified tree head, the next
//! entry to read and the compact range of the entries before it, so the
//! next run proves consistency and goes on without a gap or a repeat.

use rusqlite::{params, OptionalExtension as _};

use super::{Store, StoreError};
use crate::ct::tail::merkle::{split_hashes, CompactRange, Hash};
use crate::ct::tail::State;

/// The `ct_tail` module's migrations. Append only; never edit one.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE ct_tail_logs (
    log_id     TEXT PRIMARY KEY,
    tree_size  INTEGER NOT NULL,
    root_hash  BLOB NOT NULL,
    next_index INTEGER NOT NULL,
    compact    BLOB NOT NULL,
    updated    INTEGER NOT NULL
);
"#];

fn bad(store: &Store, detail: String) -> StoreError {
    StoreError::BadValue {
        path: store.path().to_path_buf(),
        detail,
    }
}

/// The saved position in the log `log_id` (base64), if any.
pub fn load(store: &Store, log_id: &str) -> Result<Option<State>, StoreError> {
    let row: Option<(i64, Vec<u8>, i64, Vec<u8>)> = store
        .conn
        .query_row(
            "SELECT tree_size, root_hash, next_index, compact FROM ct_tail_logs WHERE log_id = ?1",
            params![log_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(|e| store.err(e))?;
    let Some((size, root, next, compact)) = row else {
        return Ok(None);
    };
    let what = |c: &str| format!("ct_tail_logs.{c} of {log_id}");
    let size = u64::try_from(size).map_err(|_| bad(store, what("tree_size")))?;
    let next = u64::try_from(next)
        .ok()
        .filter(|n| *n <= size)
        .ok_or_else(|| bad(store, what("next_index")))?;
    let root: Hash = root.try_into().map_err(|_| bad(store, what("root_hash")))?;
    let compact = split_hashes(&compact)
        .and_then(|h| CompactRange::from_parts(next, h))
        .ok_or_else(|| bad(store, what("compact")))?;
    Ok(Some(State {
        size,
        root,
        next,
        compact,
    }))
}

/// Saves the position in the log `log_id` (base64) at `now` (Unix seconds).
pub fn save(store: &mut Store, log_id: &str, state: &State, now: i64) -> Result<(), StoreError> {
    let int = |v: u64, c: &str| {
        i64::try_from(v).map_err(|_| bad(store, format!("ct_tail_logs.{c} {v} is too large")))
    };
    let size = int(state.size, "tree_size")?;
    let next = int(state.next, "next_index")?;
    let compact: Vec<u8> = state.compact.hashes().concat();
    store
        .conn
        .execute(
            "INSERT INTO ct_tail_logs (log_id, tree_size, root_hash, next_index, compact, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (log_id) DO UPDATE SET tree_size = ?2, root_hash = ?3,
                 next_index = ?4, compact = ?5, updated = ?6",
            params![log_id, size, state.root.to_vec(), next, compact, now],
        )
        .map_err(|e| store.err(e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::tail::merkle::leaf_hash;

    #[test]
    fn round_trip_and_refused_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        assert_eq!(load(&store, "L").unwrap(), None);
        let mut compact = CompactRange::new();
        for i in 0..5u8 {
            compact.push(leaf_hash(&[i]));
        }
        let st = State {
            size: 9,
            root: [3; 32],
            next: 5,
            compact,
        };
        save(&mut store, "L", &st, 1).unwrap();
        assert_eq!(load(&store, "L").unwrap(), Some(st.clone()));
        let later = State { size: 12, ..st };
        save(&mut store, "L", &later, 2).unwrap();
        assert_eq!(load(&store, "L").unwrap(), Some(later));
        store
            .conn
            .execute("UPDATE ct_tail_logs SET compact = x'00'", [])
            .unwrap();
        assert!(matches!(
            load(&store, "L"),
            Err(StoreError::BadValue { .. })
        ));
    }
}
