//! Chromium's static key pins: `transport_security_state_static_pins.json`
//! (pinsets whose `static_spki_hashes` / `bad_static_spki_hashes` are key
//! *names*, and host entries), the `.pins` file that defines those names
//! (`sha256/…`, a PEM certificate, or a PEM public key), or an already
//! resolved JSON whose hash lists are objects `{name: "sha256/…"}`.
//!
//! Pinset names are prefixed `chromium/` so they never replace certwatch's
//! own. Chromium entries without `pins` (HSTS only) are skipped.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{normalize_host, parse_spki_hash, Diagnostic, Pin, PinDb, PinEntry, Pinset};
use crate::model::{parse_cert, sha256_b64, split_chain};

/// Key name → SPKI SHA-256 (base64), from a `.pins` file.
pub type KeyNames = BTreeMap<String, String>;

/// Parses a Chromium `.pins` file. Bad blocks become diagnostics.
pub fn parse_pins_file(src: &str) -> (KeyNames, Vec<Diagnostic>) {
    let mut names = KeyNames::new();
    let mut diags = Vec::new();
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0usize;
    let mut current: Option<(String, usize)> = None;
    while i < lines.len() {
        let line = lines[i].trim();
        let lineno = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(h) = line.strip_prefix("sha256/") {
            match (current.take(), parse_spki_hash(h)) {
                (Some((name, _)), Ok(spki)) => {
                    names.insert(name, spki);
                }
                (None, _) => diags.push(Diagnostic {
                    line: lineno,
                    message: "hash without a name before it".into(),
                }),
                (Some((name, _)), Err(e)) => diags.push(Diagnostic {
                    line: lineno,
                    message: format!("{name}: {e}"),
                }),
            }
            continue;
        }
        if line.starts_with("-----BEGIN ") {
            let start = i - 1;
            let end_marker = line.replacen("BEGIN", "END", 1);
            let mut block = String::from(line);
            block.push('\n');
            let mut closed = false;
            while i < lines.len() {
                let l = lines[i].trim();
                i += 1;
                block.push_str(l);
                block.push('\n');
                if l == end_marker {
                    closed = true;
                    break;
                }
            }
            let Some((name, _)) = current.take() else {
                diags.push(Diagnostic {
                    line: start + 1,
                    message: "PEM block without a name before it".into(),
                });
                continue;
            };
            if !closed {
                diags.push(Diagnostic {
                    line: start + 1,
                    message: format!("{name}: unterminated PEM block"),
                });
                continue;
            }
            match spki_of_pem(&block) {
                Ok(spki) => {
                    names.insert(name, spki);
                }
                Err(e) => diags.push(Diagnostic {
                    line: start + 1,
                    message: format!("{name}: {e}"),
                }),
            }
            continue;
        }
        // A name line (or the PinsListTimestamp header and its number).
        if line.bytes().all(|b| b.is_ascii_digit()) {
            current = None;
            continue;
        }
        if let Some((prev, at)) = current.replace((line.to_string(), lineno)) {
            if prev != "PinsListTimestamp" {
                diags.push(Diagnostic {
                    line: at,
                    message: format!("{prev}: no key follows the name"),
                });
            }
        }
    }
    (names, diags)
}

/// SPKI SHA-256 of a PEM certificate or PEM public key.
fn spki_of_pem(block: &str) -> Result<String, String> {
    let b64: String = block
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("bad base64 in PEM ({e})"))?;
    if block.contains("BEGIN PUBLIC KEY") {
        return Ok(sha256_b64(&der));
    }
    let ders = split_chain(block.as_bytes()).map_err(|e| e.to_string())?;
    let first = ders.first().ok_or("empty PEM block")?;
    parse_cert(first)
        .map(|c| c.spki_sha256)
        .map_err(|e| e.to_string())
}

/// Removes whole-line `//` comments (Chromium's JSON has them).
fn strip_comments(src: &str) -> String {
    src.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Imports Chromium pins. `names` resolves key names (from a `.pins` file);
/// a resolved JSON needs none. `expires` is set on every imported pinset.
pub fn import(
    src: &str,
    names: Option<&KeyNames>,
    expires: Option<i64>,
) -> Result<(PinDb, Vec<Diagnostic>), String> {
    let v: Value = serde_json::from_str(&strip_comments(src))
        .map_err(|e| format!("not Chromium pins JSON: {e}"))?;
    let pinsets = v
        .get("pinsets")
        .and_then(Value::as_array)
        .ok_or("no \"pinsets\" array: not a Chromium pins JSON")?;
    let entries = v
        .get("entries")
        .and_then(Value::as_array)
        .ok_or("no \"entries\" array: not a Chromium pins JSON")?;
    // A resolved file may carry its own name table.
    let mut table = KeyNames::new();
    if let Some(obj) = v.get("spki").and_then(Value::as_object) {
        for (k, e) in obj {
            if let Some(h) = e.get("sha256_spki_b64").and_then(Value::as_str) {
                if let Ok(s) = parse_spki_hash(h) {
                    table.insert(k.clone(), s);
                }
            }
        }
    }
    if let Some(n) = names {
        table.extend(n.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut db = PinDb::new();
    let mut diags = Vec::new();
    let mut note = |message: String| diags.push(Diagnostic { line: 0, message });
    for (i, ps) in pinsets.iter().enumerate() {
        let Some(name) = ps.get("name").and_then(Value::as_str) else {
            note(format!("pinsets[{i}]: no name; skipped"));
            continue;
        };
        let resolve = |field: &str, notes: &mut Vec<String>| -> Vec<Pin> {
            let mut raw: Vec<(String, Option<String>)> = Vec::new();
            match ps.get(field) {
                Some(Value::Array(a)) => {
                    for x in a {
                        match x.as_str() {
                            Some(s) if s.starts_with("sha256/") => {
                                raw.push((s.to_string(), Some(s.to_string())))
                            }
                            Some(s) => raw.push((s.to_string(), None)),
                            None => notes.push(format!("pinset {name}: {field}: not a string")),
                        }
                    }
                }
                Some(Value::Object(o)) => {
                    for (k, x) in o {
                        match x.as_str() {
                            Some(h) => raw.push((k.clone(), Some(h.to_string()))),
                            None => {
                                notes.push(format!("pinset {name}: {field}: {k} is not a string"))
                            }
                        }
                    }
                }
                None => {}
                Some(_) => notes.push(format!(
                    "pinset {name}: {field} is neither a list nor an object"
                )),
            }
            let mut out: Vec<Pin> = Vec::new();
            for (label, hash) in raw {
                let resolved = match hash {
                    Some(h) => parse_spki_hash(&h),
                    None => table.get(&label).cloned().ok_or_else(|| {
                        format!(
                            "key name {label:?} is not defined (give the .pins file with --pins)"
                        )
                    }),
                };
                match resolved {
                    Ok(spki) => {
                        if !out.iter().any(|p| p.spki == spki) {
                            out.push(Pin { spki, label });
                        }
                    }
                    Err(e) => notes.push(format!("pinset {name}: {field}: {e}")),
                }
            }
            out
        };
        let mut notes = Vec::new();
        let pins = resolve("static_spki_hashes", &mut notes);
        let bad = resolve("bad_static_spki_hashes", &mut notes);
        for n in notes {
            note(n);
        }
        if pins.is_empty() {
            note(format!("pinset {name}: no resolvable keys; skipped"));
            continue;
        }
        db.insert_pinset(Pinset {
            name: format!("chromium/{name}"),
            pins,
            backup: Vec::new(),
            bad,
            expires,
            description: Some("imported from Chromium static pins".into()),
        });
    }
    for (i, e) in entries.iter().enumerate() {
        let Some(pins) = e.get("pins").and_then(Value::as_str) else {
            continue;
        };
        let Some(host) = e.get("name").and_then(Value::as_str) else {
            note(format!("entries[{i}]: no name; skipped"));
            continue;
        };
        let host = match normalize_host(host) {
            Ok(h) => h,
            Err(m) => {
                note(format!("entries[{i}]: {m}"));
                continue;
            }
        };
        let pinset = format!("chromium/{pins}");
        if db.pinset(&pinset).is_none() {
            note(format!(
                "entry {host}: pinset {pins:?} was not imported; skipped"
            ));
            continue;
        }
        let sub = e
            .get("include_subdomains_for_pinning")
            .or_else(|| e.get("include_subdomains"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        db.insert_entry(PinEntry {
            host,
            include_subdomains: sub,
            pinset,
        });
    }
    Ok((db, diags))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINS: &str = "# comment\nPinsListTimestamp\n1723121786\n\nTestSPKI\nsha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nOther\nsha256/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\n";

    const JSON: &str = r#"// header comment
{
  "pinsets": [
    { "name": "test", "static_spki_hashes": ["TestSPKI"], "bad_static_spki_hashes": ["Other"] },
    { "name": "ghost", "static_spki_hashes": ["Missing"] }
  ],
  "entries": [
    // a comment inside
    { "name": "pinned.test", "include_subdomains": true, "pins": "test" },
    { "name": "exact.test", "pins": "test" },
    { "name": "hsts-only.test", "mode": "force-https" },
    { "name": "ghost.test", "pins": "ghost" }
  ]
}"#;

    #[test]
    fn pins_file_and_names() {
        let (names, diags) = parse_pins_file(PINS);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(names.len(), 2);
        let (db, diags) = import(JSON, Some(&names), None).unwrap();
        assert_eq!(db.pinsets().count(), 1);
        assert_eq!(db.entries().count(), 2);
        assert!(diags.iter().any(|d| d.message.contains("\"Missing\"")));
        assert!(diags.iter().any(|d| d.message.contains("ghost.test")));
        let e = db.lookup("a.pinned.test").unwrap();
        assert_eq!(e.pinset, "chromium/test");
        assert!(db.lookup("a.exact.test").is_none());
        let set = db.pinset("chromium/test").unwrap();
        assert_eq!(set.bad.len(), 1);
    }

    #[test]
    fn unresolved_names_without_pins_file() {
        let (db, diags) = import(JSON, None, None).unwrap();
        assert!(db.is_empty());
        assert!(diags.iter().any(|d| d.message.contains("--pins")));
    }

    #[test]
    fn bad_inputs() {
        assert!(import("{", None, None).is_err());
        assert!(import("{\"entries\": []}", None, None).is_err());
        let (_, d) = parse_pins_file("sha256/AAAA\nName\n-----BEGIN CERTIFICATE-----\nxx\n");
        assert_eq!(d.len(), 2, "{d:?}");
    }
}
