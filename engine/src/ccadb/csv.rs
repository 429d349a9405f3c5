//! Reading the CCADB CSV reports as CCADB publishes them.
//!
//! Columns are found by name, so any of CCADB's "All Certificate Records"
//! versions (v2, v4, V5) and the derived full table in `../shared` read the
//! same way. Needed: `SHA-256 Fingerprint`, `CA Owner`, `Certificate Record
//! Type`; used when present: `Subordinate CA Owner`, `Parent SHA-256
//! Fingerprint`, `Certificate Name`, `Revocation Status`, `Valid From (GMT)`,
//! an SPKI SHA-256 column or a `PEM Info` column (the key a record is matched
//! by). Every other column is ignored. A bad row is reported as `FILE:LINE`
//! and skipped; a missing needed column fails the whole file.

use super::{day_of, parse_date, Kind, Record};
use crate::model::{parse_cert, split_chain};

/// Column names, as published and as in the derived full table.
const FP: &[&str] = &["SHA-256 Fingerprint", "sha256_fingerprint"];
const OWNER: &[&str] = &["CA Owner", "ca_owner"];
const TYPE: &[&str] = &["Certificate Record Type", "record_type"];
const SUB_OWNER: &[&str] = &["Subordinate CA Owner", "subordinate_ca_owner"];
const PARENT: &[&str] = &["Parent SHA-256 Fingerprint", "parent_sha256"];
const NAME: &[&str] = &["Certificate Name", "certificate_name"];
const REVOCATION: &[&str] = &["Revocation Status", "revocation_status"];
const VALID_FROM: &[&str] = &["Valid From (GMT)", "Valid From [GMT]", "valid_from"];
const SPKI: &[&str] = &["spki_sha256_b64", "SPKI SHA-256", "SPKI SHA256"];
const PEM: &[&str] = &["PEM Info", "X.509 Certificate (PEM)", "pem"];
const AS_OF: &[&str] = &["status_asof"];

/// The most a CSV report may hold (CCADB's full report is ~20 MB).
pub const MAX_CSV_BYTES: usize = 256 << 20;

/// What a CSV gave: its records, the newest date it mentions (the data's
/// date when nothing better is known) and one line per skipped row.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Good rows.
    pub records: Vec<Record>,
    /// Operator names, indexed by [`Record::operator`].
    pub operators: Vec<String>,
    /// The newest `status_asof` or `Valid From` date, Unix seconds.
    pub newest_date: Option<i64>,
    /// `FILE:LINE: why` for every skipped row.
    pub skipped: Vec<String>,
}

/// Splits CSV text (RFC 4180: quoted fields may hold commas, quotes and
/// newlines) into rows, each with the line it starts on.
fn rows(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut row)));
                line += 1;
                start = line;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        out.push((start, row));
    }
    out
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let s: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Reads one CSV report. `file` names it in errors.
pub fn read(file: &str, text: &str) -> Result<Parsed, String> {
    let mut rows = rows(text.strip_prefix('\u{feff}').unwrap_or(text)).into_iter();
    let (_, header) = rows
        .next()
        .ok_or_else(|| format!("{file}: empty file, not a CCADB CSV report"))?;
    let need = |names: &[&str]| {
        column(&header, names).ok_or_else(|| {
            format!(
                "{file}:1: no \"{}\" column: not a CCADB certificate-records CSV",
                names[0]
            )
        })
    };
    let (fp, owner, kind) = (need(FP)?, need(OWNER)?, need(TYPE)?);
    let sub = column(&header, SUB_OWNER);
    let parent = column(&header, PARENT);
    let name = column(&header, NAME);
    let revocation = column(&header, REVOCATION);
    let valid_from = column(&header, VALID_FROM);
    let spki = column(&header, SPKI);
    let pem = column(&header, PEM);
    let as_of = column(&header, AS_OF);

    let mut p = Parsed::default();
    let mut ops: std::collections::HashMap<String, u32> = Default::default();
    for (line, row) in rows {
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(|s| s.trim()).unwrap_or("");
        let what = match get(name) {
            "" => String::new(),
            n => format!(" ({})", crate::sanitize::sanitize(n)),
        };
        let Some(sha256) = hex32(get(Some(fp))) else {
            p.skipped.push(format!(
                "{file}:{line}: skipped{what}: \"SHA-256 Fingerprint\" is not 64 hex digits"
            ));
            continue;
        };
        let kind = match get(Some(kind)) {
            k if k.eq_ignore_ascii_case("Root Certificate") || k.eq_ignore_ascii_case("root") => {
                Kind::Root
            }
            k if k.eq_ignore_ascii_case("Intermediate Certificate")
                || k.eq_ignore_ascii_case("intermediate") =>
            {
                Kind::Intermediate
            }
            other => {
                p.skipped.push(format!(
                    "{file}:{line}: skipped{what}: unknown record type \"{}\"",
                    crate::sanitize::sanitize(other)
                ));
                continue;
            }
        };
        let owner_name = match (kind, get(sub), get(Some(owner))) {
            (_, _, "") => {
                p.skipped
                    .push(format!("{file}:{line}: skipped{what}: no CA Owner"));
                continue;
            }
            (Kind::Intermediate, s, _) if !s.is_empty() => s,
            (_, _, o) => o,
        };
        let mut key = match get(spki) {
            "" => None,
            s => match super::parse_b64_32(s) {
                Some(k) => Some(k),
                None => {
                    p.skipped.push(format!(
                        "{file}:{line}: skipped{what}: the SPKI SHA-256 is not base64 of 32 bytes"
                    ));
                    continue;
                }
            },
        };
        let mut not_before = parse_date(get(valid_from));
        if let Some(cert) = pem_cert(get(pem)) {
            if cert.sha256 != crate::model::hex(&sha256) {
                p.skipped.push(format!(
                    "{file}:{line}: skipped{what}: the PEM does not match the SHA-256 fingerprint"
                ));
                continue;
            }
            key = key.or_else(|| super::parse_b64_32(&cert.spki_sha256));
            not_before = Some(cert.not_before);
        }
        for d in [parse_date(get(as_of)), not_before].into_iter().flatten() {
            p.newest_date = Some(p.newest_date.map_or(d, |n: i64| n.max(d)));
        }
        let mut intern = |name: &str| match ops.get(name) {
            Some(i) => *i,
            None => {
                let i = p.operators.len() as u32;
                p.operators.push(name.to_string());
                ops.insert(name.to_string(), i);
                i
            }
        };
        let operator = intern(owner_name);
        let ca_owner = get(Some(owner));
        let owner = (ca_owner != owner_name).then(|| intern(ca_owner));
        let revoked = get(revocation).to_ascii_lowercase().contains("revoked")
            && !get(revocation).eq_ignore_ascii_case("Not Revoked");
        p.records.push(Record {
            sha256,
            spki: key,
            kind,
            operator,
            owner,
            not_before: not_before.map(day_of),
            revoked,
            parent: hex32(get(parent)),
        });
    }
    Ok(p)
}

fn pem_cert(text: &str) -> Option<crate::model::CertInfo> {
    if !text.contains("-----BEGIN") {
        return None;
    }
    let ders = split_chain(text.as_bytes()).ok()?;
    parse_cert(ders.first()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_hold_commas_quotes_and_newlines() {
        let got = rows("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\r\n");
        assert_eq!(got[0], (1, vec!["a".into(), "b".into()]));
        assert_eq!(got[1], (2, vec!["x,1".into(), "say \"hi\"".into()]));
        assert_eq!(got[2], (3, vec!["multi\nline".into(), "z".into()]));
        assert_eq!(got.len(), 3);
    }

    const FP_A: &str = "E8A2F441657678975F2B97D775719C7D49D92234554540EC14D92E16FE27D2CB";
    const FP_B: &str = "75C9D4361CB96E993ABD9620CF043BE9407A4633F202F0F4C0E17851CC6089CD";

    #[test]
    fn published_columns_subordinate_owner_and_bad_rows() {
        let csv = format!(
            "\"CA Owner\",\"SHA-256 Fingerprint\",\"Certificate Record Type\",\"Subordinate CA Owner\",\"Certificate Name\",\"Revocation Status\",\"Valid From (GMT)\"\n\
             \"DigiCert\",\"{FP_A}\",\"Root Certificate\",\"\",\"Root\",\"\",\"2013.08.01\"\n\
             \"DigiCert\",\"{FP_B}\",\"Intermediate Certificate\",\"Apple Inc.\",\"Apple CA\",\"Revoked\",\"2020.01.02\"\n\
             \"DigiCert\",\"nothex\",\"Intermediate Certificate\",\"\",\"Broken\",\"\",\"\"\n\
             \"\",\"{FP_A}\",\"Intermediate Certificate\",\"\",\"No owner\",\"\",\"\"\n\
             \"X\",\"{FP_A}\",\"Leaf\",\"\",\"Odd\",\"\",\"\"\n"
        );
        let p = read("r.csv", &csv).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.operators, vec!["DigiCert", "Apple Inc."]);
        assert_eq!(
            p.records[1].operator, 1,
            "the subordinate CA owner operates it"
        );
        assert!(p.records[1].revoked && !p.records[0].revoked);
        assert_eq!(p.records[0].kind, Kind::Root);
        assert_eq!(p.skipped.len(), 3, "{:?}", p.skipped);
        assert!(
            p.skipped[0].starts_with("r.csv:4: skipped (Broken)"),
            "{}",
            p.skipped[0]
        );
        assert!(p.skipped[1].starts_with("r.csv:5:"), "{}", p.skipped[1]);
        assert!(p.skipped[2].contains("unknown record type \"Leaf\""));
        assert_eq!(p.newest_date, parse_date("2020-01-02"));
    }

    #[test]
    fn a_file_without_the_needed_columns_is_refused_by_name() {
        let e = read("x.csv", "name,value\na,b\n").unwrap_err();
        assert!(
            e.contains("x.csv:1: no \"SHA-256 Fingerprint\" column"),
            "{e}"
        );
        assert!(read("e.csv", "").unwrap_err().contains("empty file"));
    }
}
