//! The crt.sh-style JSON search back-end: `?q=%.DOMAIN&output=json` for
//! the subdomains and `?q=DOMAIN` for the apex, cached per domain for
//! [`CrtSh::ttl`]; parsing of its rows and of the issuer DN text they carry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{covers, CtSearch, Issuance, Polite, WatchError};

/// (O, CN) of a DN written as `C=US, O=Let's Encrypt, CN=R3`.
pub fn dn_parts(dn: &str) -> (Option<String>, Option<String>) {
    let (mut o, mut cn) = (None, None);
    let mut rest = dn;
    while !rest.is_empty() {
        let (part, tail) = split_rdn(rest);
        rest = tail;
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "O" if o.is_none() => o = Some(v),
                "CN" if cn.is_none() => cn = Some(v),
                _ => {}
            }
        }
    }
    (o, cn)
}

fn split_rdn(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, ch) in s.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&s[..i], s[i + 1..].trim_start()),
            _ => {}
        }
    }
    (s, "")
}

fn naive_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let with_z = if s.ends_with('Z') || s.contains('+') {
        s.to_string()
    } else {
        format!("{s}Z")
    };
    time::OffsetDateTime::parse(&with_z, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[derive(Deserialize)]
struct CrtShRow {
    id: serde_json::Value,
    issuer_name: String,
    #[serde(default)]
    common_name: Option<String>,
    #[serde(default)]
    name_value: Option<String>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
}

/// Parses a crt.sh `output=json` answer, keeping names under `domain`.
pub fn parse_crtsh(domain: &str, body: &[u8]) -> Result<Vec<Issuance>, WatchError> {
    let rows: Vec<CrtShRow> = serde_json::from_slice(body).map_err(|e| WatchError::Parse {
        what: "crt.sh JSON".into(),
        detail: e.to_string(),
    })?;
    let mut out = Vec::new();
    for r in rows {
        let mut names: Vec<String> = r
            .name_value
            .as_deref()
            .unwrap_or_default()
            .split('\n')
            .chain(r.common_name.as_deref())
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty() && covers(domain, n))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let (issuer_org, issuer_cn) = dn_parts(&r.issuer_name);
        out.push(Issuance {
            source: "crt.sh".into(),
            id: match &r.id {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            },
            issuer: r.issuer_name,
            issuer_org,
            issuer_cn,
            names,
            not_before: r.not_before.as_deref().and_then(naive_time),
            not_after: r.not_after.as_deref().and_then(naive_time),
            precert: false,
        });
    }
    Ok(out)
}

/// A crt.sh-style JSON search (`?q=%.DOMAIN&output=json`), cached per domain.
pub struct CrtSh {
    base: String,
    http: Polite,
    /// How long an answer is reused.
    pub ttl: Duration,
    cache: HashMap<String, (Instant, Vec<Issuance>)>,
}

impl CrtSh {
    /// `base` e.g. `https://crt.sh/`.
    pub fn new(base: &str, http: Polite) -> CrtSh {
        CrtSh {
            base: base.to_string(),
            http,
            ttl: Duration::from_secs(6 * 3600),
            cache: HashMap::new(),
        }
    }
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl CtSearch for CrtSh {
    fn name(&self) -> String {
        format!("crt.sh search at {}", self.base)
    }

    fn poll(&mut self, domains: &[String]) -> Result<Vec<Issuance>, WatchError> {
        let now = Instant::now();
        let stale: Vec<&String> = domains
            .iter()
            .filter(|d| {
                self.cache
                    .get(*d)
                    .is_none_or_compat(|(t, _)| now.duration_since(*t) >= self.ttl)
            })
            .collect();
        if !stale.is_empty() {
            self.http.begin_poll()?;
            for d in stale {
                // `%.d` finds the subdomains, `d` the apex itself.
                let mut found = Vec::new();
                for q in [format!("%.{d}"), d.clone()] {
                    let url = format!("{}?q={}&output=json", self.base, pct(&q));
                    let body = self.http.get(&url)?;
                    found.extend(parse_crtsh(d, &body)?);
                }
                found.sort_by(|a, b| a.id.cmp(&b.id));
                found.dedup_by(|a, b| a.id == b.id);
                self.cache.insert(d.clone(), (Instant::now(), found));
            }
        }
        Ok(domains
            .iter()
            .filter_map(|d| self.cache.get(d))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect())
    }
}

trait NoneOr<T> {
    fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool;
}

impl<T> NoneOr<T> for Option<&T> {
    fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool {
        match self {
            None => true,
            Some(v) => f(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_parts_table() {
        assert_eq!(
            dn_parts("C=US, O=Let's Encrypt, CN=R3"),
            (Some("Let's Encrypt".into()), Some("R3".into()))
        );
        assert_eq!(
            dn_parts(r#"C=GB, O="Sectigo Limited, Inc", CN=Sectigo RSA"#),
            (
                Some("Sectigo Limited, Inc".into()),
                Some("Sectigo RSA".into())
            )
        );
        assert_eq!(dn_parts(""), (None, None));
    }

    #[test]
    fn crtsh_parsing() {
        let body = br#"[{"issuer_ca_id":1,"issuer_name":"C=US, O=Let's Encrypt, CN=R3","common_name":"example.com","name_value":"example.com\nwww.example.com\nother.net","id":42,"entry_timestamp":"2024-01-01T00:00:00.5","not_before":"2024-01-01T00:00:00","not_after":"2024-03-31T00:00:00","serial_number":"01"}]"#;
        let got = parse_crtsh("example.com", body).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].names, vec!["example.com", "www.example.com"]);
        assert_eq!(got[0].issuer_org.as_deref(), Some("Let's Encrypt"));
        assert_eq!(got[0].id, "42");
        assert_eq!(got[0].not_before, Some(1_704_067_200));
        for bad in [&b"<html>"[..], b"{}", b"[{\"id\":1}]", b""] {
            assert!(matches!(
                parse_crtsh("example.com", bad),
                Err(WatchError::Parse { .. })
            ));
        }
    }
}
