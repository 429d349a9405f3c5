//! Who operates a CA, from CCADB's audited disclosures.
//!
//! The Common CA Database lists every root and intermediate that chains to a
//! root in the Mozilla, Chrome, Apple or Microsoft store, with its *CA Owner*
//! and, for externally operated subordinate CAs, its *Subordinate CA Owner*;
//! disclosure is mandatory. That is an audited fact about a certificate's
//! fingerprint and key, where the names inside a certificate are whatever
//! the CA above it wrote. [`Table`] holds the facts compactly: per record its
//! SHA-256, its SPKI SHA-256 (when the source has it), root or intermediate,
//! the operator, notBefore and revocation. Look-ups are by certificate
//! SHA-256 or by key ([`Table::by_key`]); never by name.
//!
//! Why a key alone may tie a certificate to a record: the verified path's
//! issuing certificate carries the key that *signed the leaf*, so whoever
//! operates that key issued the leaf, whatever the certificate around the
//! key says. A re-issued or cross-signed copy of a CA keeps its key.
//!
//! Formats: [`csv::read`] reads CCADB's CSV reports as published; [`compact`]
//! is this crate's own deterministic form, which the release embeds
//! ([`SNAPSHOT`]) and `certwatch ccadb update` writes to the data dir.

pub mod compact;
pub mod csv;
pub mod disclosure;
pub mod source;

use base64::Engine as _;

const DAY: i64 = 86_400;

/// The snapshot the release carries (see `engine/data/ccadb/PROVENANCE.md`).
pub const SNAPSHOT: &str = include_str!("../../data/ccadb/ccadb.txt");

/// Root or intermediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A root certificate record.
    Root,
    /// An intermediate certificate record (including cross-signs).
    Intermediate,
}

/// One disclosed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// SHA-256 of the certificate DER.
    pub sha256: [u8; 32],
    /// SHA-256 of its SubjectPublicKeyInfo, when the source gave it.
    pub spki: Option<[u8; 32]>,
    /// Root or intermediate.
    pub kind: Kind,
    /// Index into the table's operators: the Subordinate CA Owner when set,
    /// else the CA Owner.
    pub operator: u32,
    /// Index of the CA Owner when it is not the operator (an externally
    /// operated subordinate CA): the owner answers for it in the root
    /// programs.
    pub owner: Option<u32>,
    /// notBefore as days since 1970-01-01, when known.
    pub not_before: Option<i64>,
    /// Revoked (or its parent is), per CCADB.
    pub revoked: bool,
    /// The parent's SHA-256 (read from the CSV, not kept in the compact form).
    pub parent: Option<[u8; 32]>,
}

/// The disclosures, indexed for look-up by certificate SHA-256 and by key.
#[derive(Debug, Clone, Default)]
pub struct Table {
    operators: Vec<String>,
    /// Sorted by `sha256`, one record per certificate.
    records: Vec<Record>,
    /// (spki, index into `records`), sorted.
    by_spki: Vec<([u8; 32], u32)>,
    /// The date the data speaks for (Unix seconds, midnight UTC).
    pub date: i64,
    /// Where it came from (a file name or URL), for people.
    pub source: String,
    /// SHA-256 (hex) of the bytes it was generated from.
    pub input_sha256: String,
}

/// What a look-up found for one certificate or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The operator's CCADB name.
    pub operator: &'a str,
    /// The CA Owner answering for an externally operated subordinate CA.
    pub owner: Option<&'a str>,
    /// The record's kind.
    pub kind: Kind,
    /// Matched by the certificate's SHA-256 (else by key).
    pub exact: bool,
}

impl Table {
    /// Builds a table; duplicate fingerprints keep the first record.
    pub fn new(
        operators: Vec<String>,
        mut records: Vec<Record>,
        date: i64,
        source: String,
        input_sha256: String,
    ) -> Table {
        // Stable: the first record for a fingerprint wins.
        records.sort_by_key(|r| r.sha256);
        records.dedup_by(|b, a| a.sha256 == b.sha256);
        let mut by_spki: Vec<([u8; 32], u32)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.spki.map(|k| (k, i as u32)))
            .collect();
        by_spki.sort();
        Table {
            operators,
            records,
            by_spki,
            date,
            source,
            input_sha256,
        }
    }

    /// The embedded snapshot.
    pub fn snapshot() -> Result<Table, String> {
        compact::read("the embedded CCADB snapshot", SNAPSHOT)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// (roots, intermediates, operators).
    pub fn counts(&self) -> (usize, usize, usize) {
        let roots = self.records.iter().filter(|r| r.kind == Kind::Root).count();
        (roots, self.records.len() - roots, self.operators.len())
    }

    /// How many records carry their key.
    pub fn keyed(&self) -> usize {
        self.by_spki.len()
    }

    /// The records (sorted by SHA-256) and operator names.
    pub fn parts(&self) -> (&[Record], &[String]) {
        (&self.records, &self.operators)
    }

    fn found(&self, r: &Record, exact: bool) -> Found<'_> {
        Found {
            operator: self
                .operators
                .get(r.operator as usize)
                .map(String::as_str)
                .unwrap_or(""),
            owner: r
                .owner
                .and_then(|o| self.operators.get(o as usize))
                .map(String::as_str),
            kind: r.kind,
            exact,
        }
    }

    /// The record of the certificate with this SHA-256.
    pub fn by_sha256(&self, sha256: &[u8; 32]) -> Option<Found<'_>> {
        self.records
            .binary_search_by(|r| r.sha256.cmp(sha256))
            .ok()
            .map(|i| self.found(&self.records[i], true))
    }

    /// The operator of this key, when every record with the key that
    /// `want` accepts names the same operator (a key under two operators'
    /// names settles nothing).
    pub fn by_key(&self, spki: &[u8; 32], want: impl Fn(&Record) -> bool) -> Option<Found<'_>> {
        let start = self.by_spki.partition_point(|(k, _)| k < spki);
        let mut found: Option<Found<'_>> = None;
        for (k, i) in &self.by_spki[start..] {
            if k != spki {
                break;
            }
            let r = &self.records[*i as usize];
            if !want(r) {
                continue;
            }
            let f = self.found(r, false);
            match &found {
                None => found = Some(f),
                Some(prev) if prev.operator == f.operator => {
                    // Prefer the root record's kind for a root key.
                    if f.kind == Kind::Root {
                        found = Some(f);
                    }
                }
                Some(_) => return None,
            }
        }
        found
    }

    /// The key recorded for a fingerprint.
    pub fn key_of(&self, sha256: &[u8; 32]) -> Option<[u8; 32]> {
        self.records
            .binary_search_by(|r| r.sha256.cmp(sha256))
            .ok()
            .and_then(|i| self.records[i].spki)
    }

    /// Finds a certificate: by SHA-256 first, else by key.
    pub fn certificate(&self, sha256_hex: &str, spki_b64: &str) -> Option<Found<'_>> {
        if let Some(f) = parse_hex32(sha256_hex).and_then(|fp| self.by_sha256(&fp)) {
            return Some(f);
        }
        self.by_key(&parse_b64_32(spki_b64)?, |_| true)
    }

    /// The operator of a root, by its key.
    pub fn root(&self, spki_b64: &str) -> Option<Found<'_>> {
        let key = parse_b64_32(spki_b64)?;
        self.by_key(&key, |r| r.kind == Kind::Root)
            .or_else(|| self.by_key(&key, |_| true))
    }

    /// The data's date as `YYYY-MM-DD`.
    pub fn date_str(&self) -> String {
        ymd(self.date)
    }
}

/// `YYYY-MM-DD` of Unix seconds.
pub fn ymd(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| t.to_string())
}

/// Days since 1970-01-01 of Unix seconds.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// Parses `YYYY-MM-DD` or CCADB's `YYYY.MM.DD` (time parts ignored) to Unix
/// seconds at midnight UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let day: String = s.chars().take(10).collect();
    let mut it = day.split(['-', '.']);
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    let month = time::Month::try_from(m).ok()?;
    let date = time::Date::from_calendar_date(y, month, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// 64 hex digits (case-insensitive) to bytes.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Standard base64 of 32 bytes (an SPKI SHA-256 as the engine writes it).
pub fn parse_b64_32(s: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests;
