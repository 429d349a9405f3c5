//! The crt.sh-compatible JSON search: `?q=DOMAIN&output=json` for the
//! domain, `?q=%.DOMAIN` for its subdomains, each (pre)certificate
//! downloaded by `?d=ID` (bounded per search, cached by the caller) so its
//! SHA-256 and issuing key are facts rather than the service's text.
//! Also parses its rows and the issuer DN text they carry (display only).

use std::collections::HashMap;

use serde::Deserialize;

use super::issuer::{self, norm_serial};
use super::{merge, pct, Issuance, Page, Polite, Query, Search, WatchError};

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
    #[serde(default)]
    issuer_ca_id: Option<serde_json::Value>,
    issuer_name: String,
    #[serde(default)]
    common_name: Option<String>,
    #[serde(default)]
    name_value: Option<String>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    serial_number: Option<String>,
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Parses a crt.sh `output=json` answer, keeping the rows with a name
/// `q` wants (and only those names). One row per logged (pre)certificate;
/// rows of one issuance share [`Issuance::key`] (issuing CA and serial).
pub fn parse_crtsh(q: &Query, body: &[u8]) -> Result<Vec<Issuance>, WatchError> {
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
            .filter(|n| !n.is_empty() && q.wants(n))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let (issuer_org, issuer_cn) = dn_parts(&r.issuer_name);
        let serial = r.serial_number.as_deref().map(norm_serial);
        let ca = r
            .issuer_ca_id
            .as_ref()
            .map(text)
            .unwrap_or_else(|| r.issuer_name.clone());
        let id = text(&r.id);
        out.push(Issuance {
            source: "crt.sh".into(),
            key: match &serial {
                Some(s) => format!("crt.sh:{ca}|{s}"),
                None => format!("crt.sh:id:{id}"),
            },
            id,
            serial,
            issuer: r.issuer_name,
            issuer_org,
            issuer_cn,
            names,
            not_before: r.not_before.as_deref().and_then(naive_time),
            not_after: r.not_after.as_deref().and_then(naive_time),
            ..Issuance::default()
        });
    }
    Ok(out)
}

/// A crt.sh-compatible search: the list at `?q=DOMAIN&output=json` (and
/// `?q=%.DOMAIN` for the subdomains), each certificate at `?d=ID`.
pub struct CrtSh {
    base: String,
    http: Polite,
    /// Most certificates downloaded per search (newest first); the rest
    /// are reported without a SHA-256 or key ([`Page::not_downloaded`]).
    pub max_downloads: usize,
    /// Certificates already downloaded, by crt.sh id: filled by the caller
    /// from its cache, and with every download.
    pub downloaded: HashMap<String, Vec<u8>>,
}

impl CrtSh {
    /// `base` e.g. `https://crt.sh/`.
    pub fn new(base: &str, http: Polite) -> CrtSh {
        CrtSh {
            base: base.to_string(),
            http,
            max_downloads: 200,
            downloaded: HashMap::new(),
        }
    }

    fn url(&self, query: &str) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}{query}", self.base)
    }

    /// One certificate by crt.sh id (PEM or DER), checked to be the row's
    /// (same serial number).
    fn download(&mut self, row: &Issuance) -> Result<Vec<u8>, WatchError> {
        let url = self.url(&format!("d={}", pct(&row.id)));
        let der = match self.downloaded.get(&row.id) {
            Some(d) => d.clone(),
            None => {
                let body = self.http.get(&url)?;
                crate::model::split_chain(&body)
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .unwrap_or(body)
            }
        };
        // Checked for a cached certificate too: the cache is per service,
        // but a row must still be the certificate it names.
        let parsed = issuer::parse(&der).map_err(|detail| WatchError::Parse {
            what: url.clone(),
            detail,
        })?;
        if row.serial.as_deref().is_some_and(|s| s != parsed.serial) {
            self.downloaded.remove(&row.id);
            return Err(WatchError::Parse {
                what: url,
                detail: format!(
                    "the certificate has serial {}, the search said {}",
                    parsed.serial,
                    row.serial.as_deref().unwrap_or("")
                ),
            });
        }
        self.downloaded.insert(row.id.clone(), der.clone());
        Ok(der)
    }
}

fn numeric(id: &str) -> Option<u64> {
    id.parse().ok()
}

impl Search for CrtSh {
    fn name(&self) -> String {
        format!("crt.sh search at {}", self.base)
    }

    fn downloads(&mut self) -> Option<&mut HashMap<String, Vec<u8>>> {
        Some(&mut self.downloaded)
    }

    fn search(&mut self, q: &Query, after: Option<&str>) -> Result<Page, WatchError> {
        self.http.begin_poll()?;
        let mut queries = vec![q.domain.clone()];
        if q.include_subdomains {
            queries.push(format!("%.{}", q.domain));
        }
        let mut rows = Vec::new();
        for one in queries {
            let mut url = self.url(&format!("q={}&output=json", pct(&one)));
            if !q.include_expired {
                url.push_str("&exclude=expired");
            }
            let body = self.http.get(&url)?;
            rows.extend(parse_crtsh(q, &body).map_err(|e| match e {
                WatchError::Parse { detail, .. } => WatchError::Parse { what: url, detail },
                e => e,
            })?);
        }
        let after = after.and_then(numeric);
        rows.retain(|r| after.is_none_or(|a| numeric(&r.id).is_none_or(|i| i > a)));
        rows.sort_by_key(|r| std::cmp::Reverse(numeric(&r.id)));
        rows.dedup_by(|a, b| a.id == b.id);
        let position = rows
            .iter()
            .filter_map(|r| numeric(&r.id))
            .max()
            .or(after)
            .map(|n| n.to_string());
        let now = crate::check::unix_now();
        let mut not_downloaded = 0;
        let mut notes = Vec::new();
        let mut budget = self.max_downloads;
        for r in &mut rows {
            if !q.include_expired && r.expired(now) {
                continue;
            }
            if budget == 0 && !self.downloaded.contains_key(&r.id) {
                not_downloaded += 1;
                continue;
            }
            budget = budget.saturating_sub(1);
            let der = match self.download(r) {
                Ok(d) => d,
                // One certificate that is not what the row says: that
                // issuance has no known key (so it is unfamiliar); the
                // others still count. Refusals and failures stop the search.
                Err(WatchError::Parse { what, detail }) => {
                    not_downloaded += 1;
                    notes.push(format!("{what}: {detail}"));
                    continue;
                }
                // A certificate the service does not have (404…): the same.
                Err(WatchError::Status { url, status, .. }) if status < 500 && status != 429 => {
                    not_downloaded += 1;
                    notes.push(format!("{url}: HTTP {status}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Ok(p) = issuer::parse(&der) {
                r.sha256 = Some(p.sha256);
                r.precert = p.precert;
            }
            r.der = Some(der);
        }
        rows.retain(|r| q.include_expired || !r.expired(now));
        rows.reverse();
        Ok(Page {
            issuances: merge(rows),
            position,
            not_downloaded,
            notes,
        })
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
        let q = Query::new("example.com", true, false);
        let got = parse_crtsh(&q, body).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].names, vec!["example.com", "www.example.com"]);
        assert_eq!(got[0].key, "crt.sh:1|1");
        let exact = parse_crtsh(&Query::new("example.com", false, false), body).unwrap();
        assert_eq!(exact[0].names, vec!["example.com"]);
        assert_eq!(got[0].issuer_org.as_deref(), Some("Let's Encrypt"));
        assert_eq!(got[0].id, "42");
        assert_eq!(got[0].not_before, Some(1_704_067_200));
        for bad in [&b"<html>"[..], b"{}", b"[{\"id\":1}]", b""] {
            assert!(matches!(
                parse_crtsh(&q, bad),
                Err(WatchError::Parse { .. })
            ));
        }
    }
}
