//! The pin file format (TOML, see `pinsets/README.md`): [`parse_toml`]
//! reads it into a [`PinDb`], reporting problems as [`Diagnostic`]s with
//! 1-based line numbers; [`PinDb::to_toml`] writes it back.

use serde::Deserialize;
use toml::Spanned;

use super::{normalize_host, parse_spki_hash, Diagnostic, Pin, PinDb, PinEntry, Pinset};

impl PinDb {
    /// The database as a pin file (the format [`parse_toml`] reads).
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = String::from("# certwatch pin file (see pinsets/README.md)\n");
        for p in self.pinsets.values() {
            out.push_str("\n[[pinset]]\n");
            out.push_str(&format!("name = {}\n", q(&p.name)));
            if let Some(d) = &p.description {
                out.push_str(&format!("description = {}\n", q(d)));
            }
            if let Some(e) = p.expires {
                out.push_str(&format!("expires = {}\n", format_date(e)));
            }
            for (key, list) in [("pins", &p.pins), ("backup", &p.backup), ("bad", &p.bad)] {
                if list.is_empty() && key != "pins" {
                    continue;
                }
                out.push_str(&format!("{key} = [\n"));
                for pin in list.iter() {
                    out.push_str(&format!(
                        "  {{ label = {}, spki = \"sha256/{}\" }},\n",
                        q(&pin.label),
                        pin.spki
                    ));
                }
                out.push_str("]\n");
            }
        }
        for e in self.entries.values() {
            out.push_str("\n[[entry]]\n");
            out.push_str(&format!("host = {}\n", q(&e.host)));
            out.push_str(&format!("include_subdomains = {}\n", e.include_subdomains));
            out.push_str(&format!("pinset = {}\n", q(&e.pinset)));
        }
        out
    }
}

/// `YYYY-MM-DD` (TOML local date) for a Unix time; the time of day is
/// kept as a full UTC date-time when it is not midnight.
fn format_date(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) if d.time() == time::Time::MIDNIGHT => {
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        }
        Ok(d) => d
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string()),
        Err(_) => t.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    version: Option<Spanned<i64>>,
    #[serde(default)]
    pinset: Vec<Spanned<RawPinset>>,
    #[serde(default)]
    entry: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPinset {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    expires: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pins: Vec<Spanned<RawPin>>,
    #[serde(default)]
    backup: Vec<Spanned<RawPin>>,
    #[serde(default)]
    bad: Vec<Spanned<RawPin>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    label: String,
    spki: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    host: Spanned<String>,
    #[serde(default)]
    include_subdomains: bool,
    pinset: Spanned<String>,
}

/// 1-based line of byte offset `pos` in `src`.
pub fn line_of(src: &str, pos: usize) -> usize {
    src.as_bytes()
        .iter()
        .take(pos.min(src.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parses an expiry: a TOML date, date-time, or such a string. A date means
/// 00:00 UTC of that day.
fn parse_expiry(v: &toml::Value) -> Result<i64, String> {
    let s = match v {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        other => return Err(format!("expires must be a date, got {}", other.type_str())),
    };
    parse_date_or_time(&s)
}

/// `YYYY-MM-DD` (00:00 UTC) or RFC 3339 → Unix seconds.
pub fn parse_date_or_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD) or RFC 3339 time"))
}

/// Parses a pin file. Never fails: problems come back as diagnostics with
/// line numbers, and the items they concern are left out (a syntax error
/// leaves the whole file out).
pub fn parse_toml(src: &str) -> (PinDb, Vec<Diagnostic>) {
    let mut db = PinDb::new();
    let mut diags = Vec::new();
    let raw: RawFile = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(0);
            let msg = e.message().trim().replace('\n', " ");
            diags.push(Diagnostic { line, message: msg });
            return (db, diags);
        }
    };
    let mut diag = |pos: usize, message: String| {
        diags.push(Diagnostic {
            line: line_of(src, pos),
            message,
        })
    };
    if let Some(v) = &raw.version {
        if *v.get_ref() != 1 {
            diag(
                v.span().start,
                format!("unsupported version {}, expected 1", v.get_ref()),
            );
            return (db, diags);
        }
    }
    for sp in raw.pinset {
        let start = sp.span().start;
        let p = sp.into_inner();
        let name = p.name.get_ref().trim().to_string();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            diag(
                p.name.span().start,
                "pinset name must be 1–200 printable characters".into(),
            );
            continue;
        }
        if db.pinsets.contains_key(&name) {
            diag(
                p.name.span().start,
                format!("pinset {name:?} is defined twice; keeping the first"),
            );
            continue;
        }
        let expires = match &p.expires {
            None => None,
            Some(e) => match parse_expiry(e.get_ref()) {
                Ok(t) => Some(t),
                Err(m) => {
                    diag(e.span().start, format!("pinset {name:?}: {m}"));
                    continue;
                }
            },
        };
        let mut lists: [Vec<Pin>; 3] = Default::default();
        for (i, raw_list) in [p.pins, p.backup, p.bad].into_iter().enumerate() {
            for rp in raw_list {
                let pos = rp.span().start;
                let rp = rp.into_inner();
                match parse_spki_hash(&rp.spki) {
                    Ok(spki) => {
                        let label = rp.label.trim().to_string();
                        if lists[i].iter().any(|x| x.spki == spki) {
                            diag(pos, format!("pinset {name:?}: duplicate key {:?}", label));
                            continue;
                        }
                        lists[i].push(Pin { spki, label });
                    }
                    Err(m) => diag(pos, format!("pinset {name:?}: {m}")),
                }
            }
        }
        let [pins, backup, bad] = lists;
        if pins.is_empty() && backup.is_empty() {
            diag(
                start,
                format!("pinset {name:?} has no usable pins; left out"),
            );
            continue;
        }
        if let Some(b) = bad
            .iter()
            .find(|b| pins.iter().chain(&backup).any(|p| p.spki == b.spki))
        {
            diag(
                start,
                format!(
                    "pinset {name:?}: key {:?} is both pinned and bad; left out",
                    b.label
                ),
            );
            continue;
        }
        db.pinsets.insert(
            name.clone(),
            Pinset {
                name,
                pins,
                backup,
                bad,
                expires,
                description: p.description,
            },
        );
    }
    for sp in raw.entry {
        let e = sp.into_inner();
        let host = match normalize_host(e.host.get_ref()) {
            Ok(h) => h,
            Err(m) => {
                diag(e.host.span().start, m);
                continue;
            }
        };
        let pinset = e.pinset.get_ref().trim().to_string();
        if !db.pinsets.contains_key(&pinset) {
            diag(
                e.pinset.span().start,
                format!("entry {host}: no usable pinset named {pinset:?}"),
            );
            continue;
        }
        if db.entries.contains_key(&host) {
            diag(
                e.host.span().start,
                format!("entry {host} is defined twice; keeping the first"),
            );
            continue;
        }
        db.entries.insert(
            host.clone(),
            PinEntry {
                host,
                include_subdomains: e.include_subdomains,
                pinset,
            },
        );
    }
    (db, diags)
}
