//! One CT search, the way `certwatch ct issuances` and the daemon's CT
//! watch both run it: read from the store what the issuances are judged
//! against ([`Lookup::load`]), search, establish each issuing key by
//! signature (history's CA certificates, the configured roots, those
//! fetched before, else the certificate's AIA URL), judge
//! ([`super::familiar::assess`]), and keep what was learned
//! ([`Lookup::save`]). The store is not held during the network I/O.

use std::collections::{HashMap, HashSet};

use super::familiar::{assess, Assessed, Known};
use super::issuer::{self, establish};
use super::{IssuerKey, Page, Query, Search, WatchError};
use crate::ca::CaIdentity;
use crate::ccadb::Table;
use crate::ct::fetch::HttpClient;
use crate::model::{parse_cert, CertInfo};
use crate::store::{ct_watch, Store, StoreError};

/// Most AIA fetches in one search.
pub const MAX_AIA_FETCHES: usize = 16;

/// What a search is judged against, and the caches it fills.
#[derive(Debug, Default)]
pub struct Lookup {
    /// CA certificates whose keys may have issued a certificate.
    pub candidates: Vec<CertInfo>,
    /// CAs that vouched for sites under the domain (operators resolved).
    pub history: Vec<CaIdentity>,
    /// CT-watch seeds of the domain (operators resolved).
    pub seed: Vec<CaIdentity>,
    /// Authorized certificates.
    pub authorized: HashSet<String>,
    /// crt.sh downloads by id, from the service `download_source`.
    pub downloads: HashMap<String, Vec<u8>>,
    /// The service the downloads are from (its URL): ids are per service.
    pub download_source: String,
    /// CA certificates fetched by AIA in this search (to keep).
    pub fetched: Vec<CertInfo>,
    /// What went wrong on the side (an AIA URL that failed): the issuance
    /// then has no known key, so it is unfamiliar — the safe side.
    pub notes: Vec<String>,
}

/// The outcome of one search.
#[derive(Debug)]
pub struct Found {
    /// Every issuance, judged.
    pub issuances: Vec<Assessed>,
    /// Where the next search continues.
    pub position: Option<String>,
    /// Rows without a downloaded certificate (per-search limit).
    pub not_downloaded: usize,
}

impl Lookup {
    /// Reads the store: CA certificates, the history under `domain`, its
    /// CT seeds, the authorized certificates. `roots` (DER) are the
    /// configured roots. [`Lookup::with_downloads`] adds a service's
    /// cached downloads.
    pub fn load(
        store: &Store,
        domain: &str,
        roots: &[Vec<u8>],
        table: &Table,
    ) -> Result<Lookup, StoreError> {
        let mut candidates: Vec<CertInfo> = ct_watch::ca_certs(store)?
            .iter()
            .chain(roots)
            .filter_map(|d| parse_cert(d).ok())
            .filter(|c| c.is_ca || c.self_issued)
            .collect();
        candidates.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        candidates.dedup_by(|a, b| a.sha256 == b.sha256);
        let resolve = |mut v: Vec<CaIdentity>| {
            for c in &mut v {
                c.resolve_operator(table);
            }
            v
        };
        Ok(Lookup {
            candidates,
            history: resolve(ct_watch::identities_under(store, domain)?),
            seed: resolve(ct_watch::seeds_for(store, domain)?),
            authorized: ct_watch::authorized(store)?,
            downloads: HashMap::new(),
            download_source: String::new(),
            fetched: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// The certificates downloaded before from the service at `url`.
    pub fn with_downloads(mut self, store: &Store, url: &str) -> Result<Lookup, StoreError> {
        self.downloads = ct_watch::cached_certs(store, url)?;
        self.download_source = url.to_string();
        Ok(self)
    }

    /// Keeps the CA certificates fetched and the certificates downloaded.
    pub fn save(&self, store: &mut Store, now: i64) -> Result<(), StoreError> {
        for c in &self.fetched {
            ct_watch::add_issuer(store, &c.sha256, &c.spki_sha256, &c.der, now)?;
        }
        if self.download_source.is_empty() {
            return Ok(());
        }
        ct_watch::cache_certs(store, &self.download_source, self.downloads.iter())
    }

    /// Establishes the issuing key of every issuance of `page`: by the
    /// candidates, else by AIA (`aia`, bounded). A service's claim that a
    /// known CA's key issued a certificate this key does not verify is
    /// dropped.
    fn establish_keys(&mut self, page: &mut Page, aia: Option<&HttpClient>) {
        let mut tried: HashSet<String> = HashSet::new();
        for i in &mut page.issuances {
            if establish(i, &self.candidates).is_some() {
                continue;
            }
            let urls = i
                .der
                .as_deref()
                .and_then(|d| issuer::parse(d).ok())
                .map(|p| p.ca_issuers)
                .unwrap_or_default();
            if let Some(client) = aia {
                for url in urls {
                    if tried.len() >= MAX_AIA_FETCHES || !tried.insert(url.clone()) {
                        continue;
                    }
                    match issuer::fetch_aia(client, &url) {
                        Ok(ca) => {
                            self.candidates.push(ca.clone());
                            if establish(i, &self.candidates).is_some() {
                                self.fetched.push(ca);
                                break;
                            }
                        }
                        Err(e) => self.notes.push(e),
                    }
                }
            }
            if i.issuer_key == IssuerKey::Claimed && i.der.is_some() {
                let refuted = self
                    .candidates
                    .iter()
                    .any(|c| Some(&c.spki_sha256) == i.issuer_spki.as_ref());
                if refuted {
                    i.issuer_key = IssuerKey::Unknown;
                    i.issuer_spki = None;
                }
            }
        }
    }

    /// Judges certificates a log itself showed (`ct tail`): the issuing key
    /// by signature against the log's chain and the candidates (a
    /// precertificate entry known only by its TBS keeps the log's issuer
    /// key hash, `claimed`), then [`assess`].
    pub fn judge_logged(
        &self,
        found: &[crate::ct::tail::Found],
        table: &Table,
        now: i64,
    ) -> Vec<Assessed> {
        let list = found
            .iter()
            .map(|f| {
                let (issuer_org, issuer_cn) = super::dn_parts(&f.issuer);
                let mut i = super::Issuance {
                    source: f.cert.log.clone(),
                    id: f.cert.index.to_string(),
                    key: format!("log:{}", f.sha256),
                    sha256: Some(f.sha256.clone()),
                    issuer: f.issuer.clone(),
                    issuer_org,
                    issuer_cn,
                    issuer_spki: f
                        .issuer_spki_sha256
                        .as_deref()
                        .and_then(crate::ccadb::parse_hex32)
                        .map(|k| crate::ct::loglist::b64(&k)),
                    names: f.names.clone(),
                    not_before: f.not_before,
                    not_after: f.not_after,
                    precert: f.cert.precert,
                    der: Some(f.cert.der.clone()),
                    ..super::Issuance::default()
                };
                if i.issuer_spki.is_some() {
                    i.issuer_key = IssuerKey::Claimed;
                }
                let mut candidates: Vec<CertInfo> = f
                    .cert
                    .chain
                    .iter()
                    .filter_map(|d| parse_cert(d).ok())
                    .collect();
                candidates.extend(self.candidates.iter().cloned());
                establish(&mut i, &candidates);
                i
            })
            .collect();
        let known = Known {
            history: &self.history,
            authorized: &self.authorized,
            seed: &self.seed,
        };
        assess(list, &known, table, now)
    }

    /// Searches `q` after `after`, establishes keys, judges.
    pub fn search(
        &mut self,
        search: &mut dyn Search,
        q: &Query,
        after: Option<&str>,
        aia: Option<&HttpClient>,
        table: &Table,
        now: i64,
    ) -> Result<Found, WatchError> {
        if let Some(d) = search.downloads() {
            d.extend(self.downloads.drain());
        }
        let result = search.search(q, after);
        if let Some(d) = search.downloads() {
            self.downloads.extend(d.drain());
        }
        let mut page = result?;
        self.notes.append(&mut page.notes);
        self.establish_keys(&mut page, aia);
        let known = Known {
            history: &self.history,
            authorized: &self.authorized,
            seed: &self.seed,
        };
        Ok(Found {
            issuances: assess(page.issuances, &known, table, now),
            position: page.position,
            not_downloaded: page.not_downloaded,
        })
    }
}
