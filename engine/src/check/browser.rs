//! A browser visit, judged the same way by the native host (working
//! directly) and by the daemon (when the host relays to it).
//!
//! Firefox sends the chain it received: that chain is the observation and
//! certwatch's own probe of the site is the witness ([`compare`] says when
//! they disagree). Chromium gives extensions no certificate: the probe is the
//! observation. Either way the probe is cached per site in a [`ProbeCache`]
//! for a short time, so a repeat visit needs no TLS connection: never across
//! a change of the chain the browser sent, never for a visit that found a CA
//! change or anything at warning or above, never for a failed probe.
//!
//! Browser visits have no `expires_soon` rule: a site's coming expiry is not
//! the visitor's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ring::digest::{Context, SHA256};
use serde_json::{json, Value};

use super::compare::chain_difference;
use super::{analyze, CheckError, Checked, Engine, Prepared, Recorder};
use crate::model::MAX_CHAIN_LEN;
use crate::probe::proxy::Env;
use crate::probe::{Probed, Site};
use crate::report::{ca_json, checked_json};
use crate::verdict::Severity;

/// Largest DER certificate accepted from a browser.
pub const MAX_CERT_DER: usize = 64 * 1024;
/// Sites kept in a [`ProbeCache`] (the oldest entry goes first).
pub const PROBE_CACHE_SITES: usize = 4096;

/// One page load the extension reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The site.
    pub site: Site,
    /// The chain the browser received, DER, leaf first (Firefox only).
    pub chain: Option<Vec<Vec<u8>>>,
    /// The browser's TLS state (`secure`, `insecure`, `broken`, `weak`).
    pub tls_state: Option<String>,
    /// Whether the browser considers the chain's root built in.
    pub is_builtin_root: Option<bool>,
    /// The server address the browser's request went to (webRequest's
    /// `ip`): a cached probe never answers for another address.
    pub ip: Option<std::net::IpAddr>,
}

/// Decodes certificate `i` of a chain sent as base64 (bounded).
pub fn decode_cert(i: usize, b64: &str) -> Result<Vec<u8>, String> {
    if b64.len() > MAX_CERT_DER * 4 / 3 + 4 {
        return Err(format!("`chain[{i}]` is larger than {MAX_CERT_DER} bytes"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("`chain[{i}]` is not base64: {e}"))
}

/// Decodes a whole chain sent as base64 strings (bounded in length too).
pub fn decode_chain(items: &[String]) -> Result<Vec<Vec<u8>>, String> {
    if items.is_empty() {
        return Err("`chain` is empty".into());
    }
    if items.len() > MAX_CHAIN_LEN {
        return Err(format!(
            "`chain` has {} certificates (at most {MAX_CHAIN_LEN})",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, b)| decode_cert(i, b))
        .collect()
}

/// The chain as base64 strings (the wire form of [`Visit::chain`]).
pub fn encode_chain(chain: &[Vec<u8>]) -> Vec<String> {
    chain
        .iter()
        .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
        .collect()
}

type Digest = [u8; 32];

/// What the browser saw of the connection: its chain (Firefox) and the
/// server's address. A cached probe answers only for the same view.
fn view_digest(chain: Option<&[Vec<u8>]>, ip: Option<&std::net::IpAddr>) -> Digest {
    let mut ctx = Context::new(&SHA256);
    let ip = ip.map(|a| a.to_string()).unwrap_or_default();
    ctx.update(&(ip.len() as u64).to_be_bytes());
    ctx.update(ip.as_bytes());
    for c in chain.unwrap_or_default() {
        ctx.update(&(c.len() as u64).to_be_bytes());
        ctx.update(c);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

struct Entry {
    probed: Arc<Probed>,
    at: i64,
    /// The browser's view ([`view_digest`]) when the probe was made.
    browser: Digest,
    /// The analysis of this visit's chain, with its local evidence, for the
    /// engine that made it: a repeat visit needs no signature check either.
    memo: Option<Memo>,
}

/// A visit's analysis as the engine `engine` made it, good until `until`
/// (the chain's first expiry).
#[derive(Clone)]
struct Memo {
    engine: Arc<Engine>,
    prepared: Prepared,
    host_probe: Option<Value>,
    until: i64,
}

/// Recent probes by site (pure bookkeeping; the clock is passed in).
pub struct ProbeCache {
    ttl: i64,
    max: usize,
    entries: HashMap<Site, Entry>,
}

impl Default for ProbeCache {
    fn default() -> Self {
        ProbeCache::new(
            i64::from(crate::settings::DEFAULT_PROBE_CACHE),
            PROBE_CACHE_SITES,
        )
    }
}

impl ProbeCache {
    /// A cache keeping probes `ttl` seconds, at most `max` sites.
    pub fn new(ttl: i64, max: usize) -> ProbeCache {
        ProbeCache {
            ttl,
            max: max.max(1),
            entries: HashMap::new(),
        }
    }

    /// The probe of `site` made less than `ttl` ago for the same browser
    /// view, if any.
    fn get(&self, site: &Site, browser: &Digest, now: i64) -> Option<Arc<Probed>> {
        let e = self.entries.get(site)?;
        let fresh = now >= e.at && now - e.at < self.ttl;
        (fresh && &e.browser == browser).then(|| e.probed.clone())
    }

    fn put(&mut self, site: &Site, probed: Arc<Probed>, browser: Digest, now: i64) {
        if self.ttl <= 0 {
            return;
        }
        if self.entries.len() >= self.max && !self.entries.contains_key(site) {
            let ttl = self.ttl;
            self.entries.retain(|_, e| now >= e.at && now - e.at < ttl);
            if self.entries.len() >= self.max {
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(s, _)| s.clone())
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(
            site.clone(),
            Entry {
                probed,
                at: now,
                browser,
                memo: None,
            },
        );
    }

    /// The remembered analysis for this site, view and engine, if still good.
    fn memo(&self, site: &Site, browser: &Digest, engine: &Arc<Engine>, now: i64) -> Option<Memo> {
        let e = self.entries.get(site)?;
        let m = e.memo.as_ref()?;
        let fresh = now >= e.at && now - e.at < self.ttl && now < m.until;
        (fresh && &e.browser == browser && Arc::ptr_eq(&m.engine, engine)).then(|| m.clone())
    }

    /// Remembers an analysis beside the site's probe (if it is still there).
    fn remember(&mut self, site: &Site, browser: &Digest, memo: Memo) {
        if let Some(e) = self.entries.get_mut(site).filter(|e| &e.browser == browser) {
            e.memo = Some(memo);
        }
    }

    /// Changes how long probes answer (config reload); 0 empties the cache.
    pub fn set_ttl(&mut self, ttl: i64) {
        self.ttl = ttl;
        if ttl <= 0 {
            self.entries.clear();
        }
    }

    /// Forgets `site` (a CA change, a check of the site by other means).
    pub fn invalidate(&mut self, site: &Site) {
        self.entries.remove(site);
    }

    /// Sites cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A judged visit.
pub struct Visited {
    /// The check (for alerts).
    pub checked: Checked,
    /// The reply: `certwatch check --json`'s shape plus `source`
    /// (`browser` | `probe`), `probe_cached`, and for a browser chain
    /// `browser` and `host_probe`.
    pub json: Value,
}

fn lock(cache: &Mutex<ProbeCache>) -> std::sync::MutexGuard<'_, ProbeCache> {
    cache.lock().unwrap_or_else(|p| p.into_inner())
}

/// The site's probe: from `cache` when fresh for this browser chain, else
/// a new one (stored unless it failed).
fn probe_of(
    engine: &Engine,
    site: &Site,
    browser: Digest,
    cache: &Mutex<ProbeCache>,
    env: &dyn Env,
    now: i64,
) -> (Result<Arc<Probed>, CheckError>, bool) {
    if let Some(p) = lock(cache).get(site, &browser, now) {
        return (Ok(p), true);
    }
    let probed = engine.probe(site, None, env).map(Arc::new);
    if let Ok(p) = &probed {
        lock(cache).put(site, p.clone(), browser, now);
    }
    (probed, false)
}

/// The visit's analysis and local evidence, and (browser chain) the
/// witness: what the host's own probe saw.
fn prepare_visit(
    engine: &Engine,
    v: &Visit,
    own: Result<Arc<Probed>, CheckError>,
    builtin_roots: bool,
    now: i64,
) -> Result<(Prepared, Option<Value>), CheckError> {
    let site = &v.site;
    let Some(chain) = &v.chain else {
        // Chromium: our own probe is the observation.
        let probed = own?;
        let mut p = engine.prepare(site, &probed.chain, Some(&probed), now)?;
        p.evidence.expiry = None;
        return Ok((p, None));
    };
    // Firefox: the browser's chain is the observation, our probe the witness.
    let mut p = engine.prepare(site, chain, None, now)?;
    p.evidence.expiry = None;
    let witness = own.and_then(|probed| {
        analyze(
            &probed.chain,
            &site.host,
            now,
            &engine.classifier,
            &engine.ccadb,
        )
        .map(|a| (a, probed))
    });
    let host_probe = match witness {
        Ok((a, probed)) => {
            p.evidence.browser_chain_differs =
                chain_difference(&p.analysis.ca, &a.ca, v.is_builtin_root, builtin_roots);
            json!({
                "ca": ca_json(&a.ca),
                "trust": a.trust.kind.as_str(),
                "leaf_sha256": a.chain.first().map(|c| c.sha256.clone()),
                "protocol": probed.protocol,
                "error": Value::Null,
            })
        }
        Err(e) => json!({"error": {"kind": e.kind(), "message": e.to_string()}}),
    };
    Ok((p, Some(host_probe)))
}

/// Judges and records one visit. `builtin_roots`: the engine uses the
/// built-in public roots (then a browser root that is not built in, under
/// a public chain of the probe, is an interception sign). A repeat visit
/// with the same view reuses the cached probe and, for the same `engine`,
/// its analysis: only the judgement against the history and the record run.
pub fn visit(
    engine: &Arc<Engine>,
    v: &Visit,
    cache: &Mutex<ProbeCache>,
    env: &dyn Env,
    rec: &mut dyn Recorder,
    builtin_roots: bool,
    now: i64,
) -> Result<Visited, CheckError> {
    let site = &v.site;
    let browser = view_digest(v.chain.as_deref(), v.ip.as_ref());
    let (own, cached) = probe_of(engine, site, browser, cache, env, now);
    let memo = cached
        .then(|| lock(cache).memo(site, &browser, engine, now))
        .flatten();
    let (p, host_probe) = match memo {
        Some(m) => (m.prepared, m.host_probe),
        None => {
            let (p, host_probe) = prepare_visit(engine, v, own, builtin_roots, now)?;
            let until = p
                .analysis
                .chain
                .iter()
                .map(|c| c.not_after)
                .min()
                .unwrap_or(now);
            let memo = Memo {
                engine: engine.clone(),
                prepared: p.clone(),
                host_probe: host_probe.clone(),
                until,
            };
            lock(cache).remember(site, &browser, memo);
            (p, host_probe)
        }
    };
    let checked = engine.finish(site, p, rec, now)?;
    let mut json = checked_json(&checked);
    match host_probe {
        None => json["source"] = json!("probe"),
        Some(h) => {
            json["source"] = json!("browser");
            json["browser"] =
                json!({"tls_state": v.tls_state, "is_builtin_root": v.is_builtin_root});
            json["host_probe"] = h;
        }
    }
    if checked.verdict.previous_ca.is_some() || checked.verdict.severity >= Severity::Warning {
        // Look again next time: a change may be passing, or an attack.
        lock(cache).invalidate(site);
    }
    json["probe_cached"] = json!(cached);
    Ok(Visited { checked, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(tag: u8) -> Arc<Probed> {
        Arc::new(Probed {
            chain: vec![vec![tag]],
            presented: 1,
            ocsp: Vec::new(),
            protocol: "TLSv1_3".into(),
            cipher: "x".into(),
            peer: None,
        })
    }

    fn site(h: &str) -> Site {
        Site::parse(h, 443).unwrap()
    }

    #[test]
    fn cache_table() {
        let mut c = ProbeCache::new(600, 2);
        let a = site("a.test");
        let ip1: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let ip2: std::net::IpAddr = "192.0.2.2".parse().unwrap();
        let none = view_digest(None, None);
        let at1 = view_digest(None, Some(&ip1));
        let ff = view_digest(Some(&[vec![1], vec![2]]), None);
        let other = view_digest(Some(&[vec![1, 2]]), None);
        c.put(&a, probed(1), none, 1000);
        assert!(c.get(&a, &none, 1000).is_some(), "fresh");
        assert!(c.get(&a, &none, 1599).is_some(), "still fresh");
        assert!(c.get(&a, &none, 1600).is_none(), "expired at the TTL");
        assert!(c.get(&a, &none, 999).is_none(), "clock went back");
        assert!(c.get(&a, &ff, 1000).is_none(), "a browser chain now");
        c.put(&a, probed(1), at1, 1000);
        assert!(c.get(&a, &at1, 1001).is_some(), "same server address");
        let at2 = view_digest(None, Some(&ip2));
        assert!(
            c.get(&a, &at2, 1001).is_none(),
            "the browser went elsewhere"
        );
        c.put(&a, probed(1), ff, 1000);
        assert!(c.get(&a, &ff, 1001).is_some(), "same browser chain");
        assert!(
            c.get(&a, &other, 1001).is_none(),
            "the browser's chain changed (length framing: [1],[2] ≠ [1,2])"
        );
        c.invalidate(&a);
        assert!(c.get(&a, &ff, 1001).is_none(), "invalidated");
        // Bounded: the oldest site goes.
        c.put(&site("b.test"), probed(2), none, 10);
        c.put(&site("c.test"), probed(3), none, 20);
        c.put(&site("d.test"), probed(4), none, 30);
        assert_eq!(c.len(), 2);
        assert!(c.get(&site("b.test"), &none, 30).is_none());
        assert!(c.get(&site("d.test"), &none, 30).is_some());
        // Off.
        c.set_ttl(0);
        assert!(c.is_empty());
        c.put(&a, probed(1), none, 40);
        assert!(c.get(&a, &none, 40).is_none());
    }

    #[test]
    fn decode_table() {
        assert!(decode_chain(&[]).is_err());
        assert_eq!(decode_chain(&["AQI=".into()]).unwrap(), vec![vec![1, 2]]);
        let e = decode_chain(&["AQI=".into(), "!!".into()]).unwrap_err();
        assert!(e.contains("chain[1]"), "{e}");
        let many = vec!["AQI=".to_string(); MAX_CHAIN_LEN + 1];
        assert!(decode_chain(&many).unwrap_err().contains("at most"));
        let big = "A".repeat(MAX_CERT_DER * 2);
        assert!(decode_cert(0, &big).unwrap_err().contains("larger"));
        let back = decode_chain(&encode_chain(&[vec![0, 255, 7]])).unwrap();
        assert_eq!(back, vec![vec![0, 255, 7]]);
    }
}
