//! Store module `pins`: the user's pins and acknowledged interception roots
//! (its own append-only migrations). The pin model is [`crate::pins`].

use rusqlite::{params, OptionalExtension as _};

use super::{Store, StoreError};
use crate::pins::{Pin, PinDb, PinEntry, Pinset};

/// The `pins` module's migrations. Append only; never edit one.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE pin_sets (
    name        TEXT PRIMARY KEY,
    expires     INTEGER,
    description TEXT,
    source      TEXT NOT NULL,
    created     INTEGER NOT NULL
);
CREATE TABLE pin_keys (
    pinset TEXT NOT NULL,
    role   TEXT NOT NULL CHECK (role IN ('pin', 'backup', 'bad')),
    spki   TEXT NOT NULL,
    label  TEXT NOT NULL,
    PRIMARY KEY (pinset, role, spki)
);
CREATE TABLE pin_entries (
    host               TEXT PRIMARY KEY,
    include_subdomains INTEGER NOT NULL,
    pinset             TEXT NOT NULL,
    source             TEXT NOT NULL,
    created            INTEGER NOT NULL
);
CREATE TABLE interceptor_accepts (
    root_spki TEXT PRIMARY KEY,
    network   TEXT NOT NULL,
    label     TEXT,
    created   INTEGER NOT NULL
);
"#];

/// A root the user acknowledged as a known interception proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedInterceptor {
    /// SHA-256 (base64) of the root's SPKI.
    pub root_spki: String,
    /// The network name the user gave.
    pub network: String,
    /// The root's name, when known at acceptance.
    pub label: Option<String>,
    /// When, Unix seconds.
    pub at: i64,
}

/// Reads the user's pins.
pub fn load(store: &Store) -> Result<PinDb, StoreError> {
    let mut db = PinDb::new();
    let c = &store.conn;
    let sets: Vec<(String, Option<i64>, Option<String>)> = {
        let mut st = c
            .prepare("SELECT name, expires, description FROM pin_sets ORDER BY name")
            .map_err(|e| store.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| store.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| store.err(e))?
    };
    for (name, expires, description) in sets {
        let mut set = Pinset {
            name: name.clone(),
            pins: Vec::new(),
            backup: Vec::new(),
            bad: Vec::new(),
            expires,
            description,
        };
        let mut st = c
            .prepare("SELECT role, spki, label FROM pin_keys WHERE pinset = ?1 ORDER BY rowid")
            .map_err(|e| store.err(e))?;
        let rows = st
            .query_map(params![name], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| store.err(e))?;
        for row in rows {
            let (role, spki, label) = row.map_err(|e| store.err(e))?;
            let pin = Pin { spki, label };
            match role.as_str() {
                "pin" => set.pins.push(pin),
                "backup" => set.backup.push(pin),
                _ => set.bad.push(pin),
            }
        }
        db.insert_pinset(set);
    }
    let mut st = c
        .prepare("SELECT host, include_subdomains, pinset FROM pin_entries ORDER BY host")
        .map_err(|e| store.err(e))?;
    let rows = st
        .query_map([], |r| {
            Ok(PinEntry {
                host: r.get(0)?,
                include_subdomains: r.get::<_, i64>(1)? != 0,
                pinset: r.get(2)?,
            })
        })
        .map_err(|e| store.err(e))?;
    for row in rows {
        db.insert_entry(row.map_err(|e| store.err(e))?);
    }
    Ok(db)
}

/// Merges `db` into the user's pins in one transaction: its pinsets replace
/// same-named ones, its entries replace the same hosts' entries. Returns
/// (pinsets, entries) written.
pub fn save(
    store: &mut Store,
    db: &PinDb,
    source: &str,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let (path, busy) = (store.path.clone(), store.busy_ms);
    let map = |e: rusqlite::Error| super::error::map_err(&path, busy, e);
    let tx = store.conn.transaction().map_err(map)?;
    let mut sets = 0;
    for p in db.pinsets() {
        tx.execute("DELETE FROM pin_keys WHERE pinset = ?1", params![p.name])
            .map_err(map)?;
        tx.execute(
            "INSERT INTO pin_sets (name, expires, description, source, created) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(name) DO UPDATE SET expires = excluded.expires,
               description = excluded.description, source = excluded.source",
            params![p.name, p.expires, p.description, source, now],
        )
        .map_err(map)?;
        for (role, list) in [("pin", &p.pins), ("backup", &p.backup), ("bad", &p.bad)] {
            for k in list.iter() {
                tx.execute(
                    "INSERT OR IGNORE INTO pin_keys (pinset, role, spki, label) VALUES (?1, ?2, ?3, ?4)",
                    params![p.name, role, k.spki, k.label],
                )
                .map_err(map)?;
            }
        }
        sets += 1;
    }
    let mut entries = 0;
    for e in db.entries() {
        tx.execute(
            "INSERT INTO pin_entries (host, include_subdomains, pinset, source, created) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(host) DO UPDATE SET include_subdomains = excluded.include_subdomains,
               pinset = excluded.pinset, source = excluded.source",
            params![e.host, e.include_subdomains as i64, e.pinset, source, now],
        )
        .map_err(map)?;
        entries += 1;
    }
    tx.commit().map_err(map)?;
    store.note_own_change();
    Ok((sets, entries))
}

/// Removes the entry for `host` and any pinset no entry uses any more.
/// Returns the removed entry.
pub fn remove(store: &mut Store, host: &str) -> Result<Option<PinEntry>, StoreError> {
    let db = load(store)?;
    let Some(entry) = db.entries().find(|e| e.host == host).cloned() else {
        return Ok(None);
    };
    let (path, busy) = (store.path.clone(), store.busy_ms);
    let map = |e: rusqlite::Error| super::error::map_err(&path, busy, e);
    let tx = store.conn.transaction().map_err(map)?;
    tx.execute("DELETE FROM pin_entries WHERE host = ?1", params![host])
        .map_err(map)?;
    tx.execute(
        "DELETE FROM pin_keys WHERE pinset NOT IN (SELECT pinset FROM pin_entries)",
        [],
    )
    .map_err(map)?;
    tx.execute(
        "DELETE FROM pin_sets WHERE name NOT IN (SELECT pinset FROM pin_entries)",
        [],
    )
    .map_err(map)?;
    tx.commit().map_err(map)?;
    store.note_own_change();
    Ok(Some(entry))
}

/// Records `root_spki` as the interception root of `network`.
pub fn accept_interceptor(
    store: &mut Store,
    root_spki: &str,
    network: &str,
    label: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    store
        .conn
        .execute(
            "INSERT INTO interceptor_accepts (root_spki, network, label, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(root_spki) DO UPDATE SET network = excluded.network, label = excluded.label",
            params![root_spki, network, label, now],
        )
        .map_err(|e| store.err(e))?;
    store.note_own_change();
    Ok(())
}

/// Forgets an acknowledged root; returns whether it was there.
pub fn forget_interceptor(store: &mut Store, root_spki: &str) -> Result<bool, StoreError> {
    let n = store
        .conn
        .execute(
            "DELETE FROM interceptor_accepts WHERE root_spki = ?1",
            params![root_spki],
        )
        .map_err(|e| store.err(e))?;
    store.note_own_change();
    Ok(n > 0)
}

/// The acknowledged interception roots.
pub fn accepted_interceptors(store: &Store) -> Result<Vec<AcceptedInterceptor>, StoreError> {
    let c = &store.conn;
    let mut st = c
        .prepare(
            "SELECT root_spki, network, label, created FROM interceptor_accepts ORDER BY created",
        )
        .map_err(|e| store.err(e))?;
    let rows = st
        .query_map([], |r| {
            Ok(AcceptedInterceptor {
                root_spki: r.get(0)?,
                network: r.get(1)?,
                label: r.get(2)?,
                at: r.get(3)?,
            })
        })
        .map_err(|e| store.err(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.err(e))
}

/// The network a root was acknowledged for, if any.
pub fn interceptor_network(store: &Store, root_spki: &str) -> Result<Option<String>, StoreError> {
    store
        .conn
        .query_row(
            "SELECT network FROM interceptor_accepts WHERE root_spki = ?1",
            params![root_spki],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| store.err(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::parse_toml;
    use crate::store::Store;

    #[test]
    fn save_load_remove_round_trip() {
        let mut s = Store::in_memory().unwrap();
        let (db, d) = parse_toml(
            "[[pinset]]\nname = \"user/a.test\"\nexpires = 2030-01-01\npins = [{label=\"k\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\nbad = [{label=\"b\", spki=\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\"}]\n[[entry]]\nhost = \"a.test\"\ninclude_subdomains = true\npinset = \"user/a.test\"\n",
        );
        assert!(d.is_empty());
        assert_eq!(save(&mut s, &db, "test", 1).unwrap(), (1, 1));
        assert_eq!(load(&s).unwrap(), db);
        // saving again is idempotent
        save(&mut s, &db, "test", 2).unwrap();
        assert_eq!(load(&s).unwrap(), db);
        assert!(remove(&mut s, "a.test").unwrap().is_some());
        assert!(remove(&mut s, "a.test").unwrap().is_none());
        assert!(load(&s).unwrap().is_empty());
    }

    #[test]
    fn interceptor_accepts() {
        let mut s = Store::in_memory().unwrap();
        accept_interceptor(&mut s, "K", "corp", Some("Corp Root"), 5).unwrap();
        accept_interceptor(&mut s, "K", "office", None, 6).unwrap();
        assert_eq!(
            interceptor_network(&s, "K").unwrap().as_deref(),
            Some("office")
        );
        assert_eq!(interceptor_network(&s, "X").unwrap(), None);
        assert_eq!(accepted_interceptors(&s).unwrap().len(), 1);
        assert!(forget_interceptor(&mut s, "K").unwrap());
        assert!(!forget_interceptor(&mut s, "K").unwrap());
    }
}
