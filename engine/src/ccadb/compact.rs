//! certwatch's own compact form of the CCADB table: line-based, sorted, with
//! no generation time in it, so the same input always gives the same bytes
//! (the release snapshot is checked by regenerating it).
//!
//! ```text
//! certwatch-ccadb 1
//! date 2026-08-22
//! source ccadb_records_full_2026-08-22.csv
//! input-sha256 d014…
//! operators 2
//! DigiCert
//! Internet Security Research Group
//! records 3
//! R <sha256> <spki|-> <operator#> <notBefore day|-> [<CA Owner#>]
//! I! …            (`!`: revoked)
//! ```
//! Fingerprints and keys are unpadded base64. The CA Owner is written only
//! for externally operated subordinate CAs (when it is not the operator).

use base64::Engine as _;

use super::{parse_date, ymd, Kind, Record, Table};

const MAGIC: &str = "certwatch-ccadb 1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// The most a compact file may hold.
pub const MAX_COMPACT_BYTES: usize = 64 << 20;

/// Whether `text` is in the compact form (else it is read as CSV).
pub fn is_compact(text: &str) -> bool {
    text.starts_with(MAGIC)
}

/// Writes `table` in the compact form: operators sorted by name, records by
/// fingerprint.
pub fn write(table: &Table) -> String {
    let (records, operators) = table.parts();
    let mut order: Vec<usize> = (0..operators.len()).collect();
    order.sort_by(|a, b| operators[*a].cmp(&operators[*b]));
    let mut new_index = vec![0u32; operators.len()];
    for (new, old) in order.iter().enumerate() {
        new_index[*old] = new as u32;
    }
    let mut out = String::with_capacity(records.len() * 104 + 4096);
    out.push_str(MAGIC);
    out.push('\n');
    out.push_str(&format!("date {}\n", ymd(table.date)));
    out.push_str(&format!("source {}\n", one_line(&table.source)));
    out.push_str(&format!("input-sha256 {}\n", table.input_sha256));
    out.push_str(&format!("operators {}\n", operators.len()));
    for i in &order {
        out.push_str(&one_line(&operators[*i]));
        out.push('\n');
    }
    out.push_str(&format!("records {}\n", records.len()));
    for r in records {
        out.push(match r.kind {
            Kind::Root => 'R',
            Kind::Intermediate => 'I',
        });
        if r.revoked {
            out.push('!');
        }
        out.push(' ');
        out.push_str(&B64.encode(r.sha256));
        out.push(' ');
        match &r.spki {
            Some(k) => out.push_str(&B64.encode(k)),
            None => out.push('-'),
        }
        out.push_str(&format!(
            " {} {}",
            new_index.get(r.operator as usize).copied().unwrap_or(0),
            r.not_before.map_or("-".to_string(), |d| d.to_string())
        ));
        if let Some(o) = r.owner {
            out.push_str(&format!(
                " {}",
                new_index.get(o as usize).copied().unwrap_or(0)
            ));
        }
        out.push('\n');
    }
    out
}

fn one_line(s: &str) -> String {
    crate::sanitize::sanitize(s).replace(['\n', '\r'], " ")
}

fn b32(s: &str) -> Option<[u8; 32]> {
    B64.decode(s).ok()?.try_into().ok()
}

/// Reads the compact form; `file` names it in errors (`FILE:LINE: why`).
pub fn read(file: &str, text: &str) -> Result<Table, String> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut next = |what: &str| {
        lines
            .next()
            .ok_or_else(|| format!("{file}: ends before {what}"))
    };
    let (_, magic) = next("the header")?;
    if magic != MAGIC {
        return Err(format!(
            "{file}:1: not a certwatch CCADB table (expected \"{MAGIC}\")"
        ));
    }
    let field = |(n, l): (usize, &str), key: &str| -> Result<String, String> {
        l.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .map(str::to_string)
            .ok_or_else(|| format!("{file}:{n}: expected \"{key} …\""))
    };
    let date_line = next("date")?;
    let date = parse_date(&field(date_line, "date")?)
        .ok_or_else(|| format!("{file}:{}: bad date", date_line.0))?;
    let source = field(next("source")?, "source")?;
    let input_sha256 = field(next("input-sha256")?, "input-sha256")?;
    let count = |l: (usize, &str), key: &str| -> Result<usize, String> {
        field(l, key)?
            .parse()
            .map_err(|_| format!("{file}:{}: bad {key} count", l.0))
    };
    let n_ops = count(next("operators")?, "operators")?;
    let mut operators = Vec::with_capacity(n_ops.min(100_000));
    for _ in 0..n_ops {
        operators.push(next("an operator")?.1.to_string());
    }
    let n_rec = count(next("records")?, "records")?;
    let mut records = Vec::with_capacity(n_rec.min(1_000_000));
    for _ in 0..n_rec {
        let (n, l) = next("a record")?;
        let bad = |why: &str| format!("{file}:{n}: {why}");
        let mut f = l.split(' ');
        let (kind, revoked) = match f.next() {
            Some("R") => (Kind::Root, false),
            Some("R!") => (Kind::Root, true),
            Some("I") => (Kind::Intermediate, false),
            Some("I!") => (Kind::Intermediate, true),
            _ => return Err(bad("record kind is not R or I")),
        };
        let sha256 = f
            .next()
            .and_then(b32)
            .ok_or_else(|| bad("bad fingerprint"))?;
        let spki = match f.next() {
            Some("-") => None,
            Some(k) => Some(b32(k).ok_or_else(|| bad("bad key"))?),
            None => return Err(bad("no key field")),
        };
        let operator: u32 = f
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|i| (*i as usize) < operators.len())
            .ok_or_else(|| bad("bad operator number"))?;
        let not_before = match f.next() {
            Some("-") => None,
            Some(d) => Some(d.parse().map_err(|_| bad("bad notBefore day"))?),
            None => return Err(bad("no notBefore field")),
        };
        let owner = match f.next() {
            None => None,
            Some(o) => Some(
                o.parse::<u32>()
                    .ok()
                    .filter(|i| (*i as usize) < operators.len())
                    .ok_or_else(|| bad("bad CA Owner number"))?,
            ),
        };
        records.push(Record {
            sha256,
            spki,
            kind,
            operator,
            owner,
            not_before,
            revoked,
            parent: None,
        });
    }
    Ok(Table::new(operators, records, date, source, input_sha256))
}
