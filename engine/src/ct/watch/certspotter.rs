//! SSLMate's certspotter search API (`GET /v1/issuances`): issuances for a
//! domain in discovery order, paged by `after=ID` (the position a watch
//! keeps), expanded with the DNS names, the issuer (with the SHA-256 of its
//! key, which CCADB turns into an operator) and the certificate DER (so its
//! signature can verify that claim). Certspotter already merges a
//! precertificate with its certificate (one issuance per TBS).

use base64::Engine as _;
use serde::Deserialize;

use super::issuer;
use super::{pct, Issuance, IssuerKey, Page, Polite, Query, Search, WatchError};

/// Most pages read per search (each is one request).
pub const MAX_PAGES: usize = 20;

#[derive(Deserialize)]
struct Row {
    id: serde_json::Value,
    #[serde(default)]
    tbs_sha256: Option<String>,
    #[serde(default)]
    cert_sha256: Option<String>,
    #[serde(default)]
    dns_names: Vec<String>,
    #[serde(default)]
    issuer: Option<RowIssuer>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    cert_der: Option<String>,
    /// The older API's `cert` expansion.
    #[serde(default)]
    cert: Option<RowCert>,
}

#[derive(Deserialize)]
struct RowIssuer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    pubkey_sha256: Option<String>,
}

#[derive(Deserialize)]
struct RowCert {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

fn rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn hex_to_b64(h: &str) -> Option<String> {
    crate::ccadb::parse_hex32(h).map(|k| base64::engine::general_purpose::STANDARD.encode(k))
}

/// Parses one `/v1/issuances` answer, keeping names `q` wants. Returns the
/// issuances and the id of the last row (the next `after`).
pub fn parse_certspotter(
    q: &Query,
    body: &[u8],
) -> Result<(Vec<Issuance>, Option<String>), WatchError> {
    let rows: Vec<Row> = serde_json::from_slice(body).map_err(|e| WatchError::Parse {
        what: "certspotter JSON".into(),
        detail: e.to_string(),
    })?;
    let last = rows.last().map(|r| match &r.id {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    });
    let mut out = Vec::new();
    for r in rows {
        let id = match &r.id {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let der_b64 = r
            .cert_der
            .or_else(|| r.cert.as_ref().and_then(|c| c.data.clone()));
        let der = match der_b64 {
            Some(b) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|e| WatchError::Parse {
                        what: format!("certspotter issuance {id}"),
                        detail: format!("cert_der: {e}"),
                    })?,
            ),
            None => None,
        };
        let parsed = der.as_deref().and_then(|d| issuer::parse(d).ok());
        let mut names: Vec<String> = r
            .dns_names
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .chain(parsed.iter().flat_map(|p| p.names.iter().cloned()))
            .filter(|n| q.wants(n))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            if !r.dns_names.is_empty() || parsed.is_some() {
                continue;
            }
            // Neither names nor the certificate were expanded: the service
            // answered for the queried domain.
            names.push(q.domain.clone());
        }
        let iss = r.issuer.as_ref();
        let issuer_name = iss
            .and_then(|i| i.name.clone())
            .or_else(|| parsed.as_ref().map(|p| p.issuer.clone()))
            .unwrap_or_default();
        let (mut org, mut cn) = super::dn_parts(&issuer_name);
        if let Some(p) = &parsed {
            org = p.issuer_org.clone().or(org);
            cn = p.issuer_cn.clone().or(cn);
        }
        if org.is_none() {
            org = iss.and_then(|i| i.friendly_name.clone());
        }
        let claimed = iss
            .and_then(|i| i.pubkey_sha256.as_deref())
            .and_then(hex_to_b64);
        // The certificate's own hash when it came along; else the
        // service's, only when it is a SHA-256 in hex.
        let sha256 = parsed
            .as_ref()
            .map(|p| p.sha256.clone())
            .or_else(|| {
                r.cert_sha256
                    .or_else(|| r.cert.as_ref().and_then(|c| c.sha256.clone()))
                    .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .map(|s| s.to_ascii_lowercase());
        let precert = parsed
            .as_ref()
            .map(|p| p.precert)
            .unwrap_or_else(|| r.cert.as_ref().and_then(|c| c.kind.as_deref()) == Some("precert"));
        out.push(Issuance {
            source: "certspotter".into(),
            key: format!(
                "certspotter:{}",
                r.tbs_sha256.as_deref().unwrap_or(&id).to_ascii_lowercase()
            ),
            id,
            sha256,
            serial: parsed.as_ref().map(|p| p.serial.clone()),
            issuer: issuer_name,
            issuer_org: org,
            issuer_cn: cn,
            issuer_key: if claimed.is_some() {
                IssuerKey::Claimed
            } else {
                IssuerKey::Unknown
            },
            issuer_spki: claimed,
            names,
            not_before: r
                .not_before
                .as_deref()
                .and_then(rfc3339)
                .or(parsed.as_ref().map(|p| p.not_before)),
            not_after: r
                .not_after
                .as_deref()
                .and_then(rfc3339)
                .or(parsed.as_ref().map(|p| p.not_after)),
            precert,
            der,
            ..Issuance::default()
        });
    }
    Ok((out, last))
}

/// The certspotter API at `base` (`https://api.certspotter.com/`, or a
/// URL ending in `/v1/issuances`).
pub struct CertSpotter {
    url: String,
    http: Polite,
    /// Most pages per search.
    pub max_pages: usize,
}

impl CertSpotter {
    /// A client of the API at `base`.
    pub fn new(base: &str, http: Polite) -> CertSpotter {
        let b = base.trim_end_matches('/');
        let url = if b.ends_with("/v1/issuances") {
            b.to_string()
        } else {
            format!("{b}/v1/issuances")
        };
        CertSpotter {
            url,
            http,
            max_pages: MAX_PAGES,
        }
    }
}

impl Search for CertSpotter {
    fn name(&self) -> String {
        format!("certspotter API at {}", self.url)
    }

    fn search(&mut self, q: &Query, after: Option<&str>) -> Result<Page, WatchError> {
        self.http.begin_poll()?;
        let mut page = Page {
            position: after.map(str::to_string),
            ..Page::default()
        };
        for _ in 0..self.max_pages.max(1) {
            let mut url = format!(
                "{}?domain={}&include_subdomains={}&match_wildcards=true&expand=dns_names&expand=issuer&expand=cert_der",
                self.url,
                pct(&q.domain),
                q.include_subdomains
            );
            if q.include_expired {
                url.push_str("&expired=true");
            }
            if let Some(a) = &page.position {
                url.push_str(&format!("&after={}", pct(a)));
            }
            let body = self.http.get(&url)?;
            let (found, last) = parse_certspotter(q, &body).map_err(|e| match e {
                WatchError::Parse { detail, .. } => WatchError::Parse { what: url, detail },
                e => e,
            })?;
            match last {
                None => break,
                Some(l) if Some(&l) == page.position.as_ref() => break,
                Some(l) => page.position = Some(l),
            }
            page.issuances.extend(found);
        }
        page.issuances = super::merge(std::mem::take(&mut page.issuances));
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_api_shape_and_refuses_garbage() {
        let body = br#"[{"id":"9","tbs_sha256":"AB","cert_sha256":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9","dns_names":["www.example.com","other.net"],"pubkey_sha256":"00","issuer":{"friendly_name":"Let's Encrypt","name":"C=US, O=Let's Encrypt, CN=R11","pubkey_sha256":"0000000000000000000000000000000000000000000000000000000000000001"},"not_before":"2026-01-01T00:00:00Z","not_after":"2026-04-01T00:00:00Z","revoked":false}]"#;
        let q = Query::new("example.com", true, false);
        let (got, last) = parse_certspotter(&q, body).unwrap();
        assert_eq!(last.as_deref(), Some("9"));
        assert_eq!(got.len(), 1);
        let i = &got[0];
        assert_eq!(i.names, vec!["www.example.com"]);
        assert_eq!(i.key, "certspotter:ab");
        assert_eq!(i.sha256, None, "not a SHA-256: not taken");
        assert_eq!(i.issuer_key, IssuerKey::Claimed);
        assert_eq!(
            i.issuer_spki.as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=")
        );
        assert_eq!(i.issuer_org.as_deref(), Some("Let's Encrypt"));
        assert_eq!(i.not_before, Some(1_767_225_600));
        for bad in [
            &b"{}"[..],
            b"[{\"id\":1,\"cert_der\":\"!!\",\"dns_names\":[\"example.com\"]}]",
            b"[",
            b"",
        ] {
            assert!(matches!(
                parse_certspotter(&q, bad),
                Err(WatchError::Parse { .. })
            ));
        }
    }
}
