//! Derives a pin file from a *spec* that names root certificates by common
//! name, and a PEM bundle of roots holding them. No hash is typed by hand:
//! `certwatch pins generate --spec pinsets/shipped.spec.toml --from-roots
//! ROOTS.pem` writes `pinsets/shipped.toml`.
//!
//! Spec format: like a pin file, but `pins`, `backup` and `bad` are lists of
//! root common names (exact match on the certificate's subject CN).

use serde::Deserialize;

use super::{line_of, normalize_host, parse_date_or_time, Pin, PinDb, PinEntry, Pinset};
use crate::model::CertInfo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    pinset: Vec<SpecSet>,
    #[serde(default)]
    entry: Vec<SpecEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecSet {
    name: String,
    #[serde(default)]
    description: Option<String>,
    expires: toml::Value,
    pins: Vec<String>,
    #[serde(default)]
    backup: Vec<String>,
    #[serde(default)]
    bad: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecEntry {
    host: String,
    #[serde(default)]
    include_subdomains: bool,
    pinset: String,
}

/// Every `CERTIFICATE` block of a PEM bundle, tolerating comment lines
/// (certifi / Mozilla bundles start with `# Issuer: …` headers) and any
/// number of certificates. Returns (DERs, problems with line numbers).
pub fn pem_bundle(text: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    use base64::Engine as _;
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l == "-----BEGIN CERTIFICATE-----" {
            cur = Some((i + 1, String::new()));
        } else if l == "-----END CERTIFICATE-----" {
            match cur.take() {
                Some((start, b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
                    Ok(der) => out.push(der),
                    Err(e) => errs.push(format!("line {start}: bad base64 ({e})")),
                },
                None => errs.push(format!("line {}: END without BEGIN", i + 1)),
            }
        } else if let Some((_, b64)) = cur.as_mut() {
            b64.push_str(l);
        }
    }
    if let Some((start, _)) = cur {
        errs.push(format!("line {start}: BEGIN CERTIFICATE without END"));
    }
    (out, errs)
}

/// Builds the pin database described by `spec` from `roots`. Every problem
/// is reported (one line each) and none is papered over.
pub fn generate(spec: &str, roots: &[CertInfo]) -> Result<PinDb, Vec<String>> {
    let s: Spec = toml::from_str(spec).map_err(|e| {
        let line = e.span().map(|r| line_of(spec, r.start)).unwrap_or(0);
        vec![format!("spec line {line}: {}", e.message().trim())]
    })?;
    let mut errors = Vec::new();
    let mut db = PinDb::new();
    let find = |cn: &str, errors: &mut Vec<String>, set: &str| -> Option<Pin> {
        let mut keys: Vec<&CertInfo> = roots
            .iter()
            .filter(|r| {
                r.subject_cn.as_deref() == Some(cn)
                    || r.subject.split(", ").any(|a| a == format!("OU={cn}"))
            })
            .collect();
        keys.dedup_by(|a, b| a.spki_sha256 == b.spki_sha256);
        match keys.as_slice() {
            [one] => Some(Pin {
                spki: one.spki_sha256.clone(),
                label: cn.to_string(),
            }),
            [] => {
                errors.push(format!(
                    "pinset {set}: no root with CN {cn:?} in the roots file"
                ));
                None
            }
            _ => {
                errors.push(format!(
                    "pinset {set}: {} roots with CN {cn:?} and different keys; ambiguous",
                    keys.len()
                ));
                None
            }
        }
    };
    for p in s.pinset {
        let expires = match &p.expires {
            toml::Value::Datetime(d) => parse_date_or_time(&d.to_string()),
            toml::Value::String(x) => parse_date_or_time(x),
            _ => Err("expires must be a date".to_string()),
        };
        let expires = match expires {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("pinset {}: {e}", p.name));
                continue;
            }
        };
        let mut resolve = |names: &[String]| -> Vec<Pin> {
            names
                .iter()
                .filter_map(|n| find(n, &mut errors, &p.name))
                .collect()
        };
        let pins = resolve(&p.pins);
        let backup = resolve(&p.backup);
        let bad = resolve(&p.bad);
        db.insert_pinset(Pinset {
            name: p.name,
            pins,
            backup,
            bad,
            expires: Some(expires),
            description: p.description,
        });
    }
    for e in s.entry {
        match normalize_host(&e.host) {
            Ok(host) if db.pinset(&e.pinset).is_some() => db.insert_entry(PinEntry {
                host,
                include_subdomains: e.include_subdomains,
                pinset: e.pinset,
            }),
            Ok(host) => errors.push(format!("entry {host}: no pinset {:?}", e.pinset)),
            Err(m) => errors.push(m),
        }
    }
    if errors.is_empty() {
        Ok(db)
    } else {
        Err(errors)
    }
}
