//! One check, end to end — the pipeline every front end runs:
//! probe → parse/classify ([`analyze`]) → local evidence ([`EvidenceSource`])
//! → history → first judgement → [`Enricher`]s that need it (CAA) → judge and
//! record ([`Recorder`]).
//!
//! This is the only place that wires the pure parts ([`crate::model`],
//! [`crate::trust`], [`crate::ca`], [`crate::verdict`]) to the edges (the
//! probe's socket, the store's file, the clock). [`Engine::from_settings`]
//! (in [`setup`]) is the only assembly of evidence sources; the CLI's `check`
//! and `inspect`, the native host and the daemon all call
//! [`Engine::observe`] (or its two halves, [`Engine::prepare`] and
//! [`Engine::finish`]), so they give the same verdict for the same input.
//!
//! Network I/O (probe, enrichers) never runs inside a store transaction or
//! while a [`Recorder`] holds shared state: `finish` asks the recorder for
//! the history, releases it, enriches, then records.

pub mod browser;
pub mod compare;
mod record;
mod setup;

use std::sync::Arc;

pub use record::{Locked, NoHistory, ReadOnly, Recorder, StoreLock};
pub use setup::{builtin_ct_list, classifier, read_roots, SetupError};

use crate::ca::CaIdentity;
use crate::ccadb::{disclosure, Table};
use crate::model::{parse_chain, CertInfo, Error as CertError};
use crate::probe::proxy::{proxy_for, Env};
use crate::probe::{self, ProbeConfig, ProbeError, Probed, Site, StartTls};
use crate::store::{Store, StoreError};
use crate::trust::{Classifier, Trust};
use crate::verdict::{judge, Evidence, ExpiryPolicy, History, Input, Verdict};

/// The parsed and classified chain.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Parsed chain, leaf first.
    pub chain: Vec<CertInfo>,
    /// Trust classification.
    pub trust: Trust,
    /// CA identity.
    pub ca: CaIdentity,
}

/// Why a check could not reach a verdict (exit code 3, UNKNOWN).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The site could not be reached or did not complete a handshake.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A certificate in the chain could not be parsed.
    #[error("certificate #{index} in the chain: {error}")]
    Cert {
        /// Position, 0 = leaf.
        index: usize,
        /// Why.
        error: CertError,
    },
    /// The chain is empty.
    #[error("empty certificate chain")]
    EmptyChain,
    /// The history store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CheckError {
    /// Stable short kind for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckError::Probe(p) => p.kind(),
            CheckError::Cert { .. } | CheckError::EmptyChain => "bad_certificate",
            CheckError::Store(_) => "store",
        }
    }
}

/// Parses and classifies a DER chain for `host` at `now`.
pub fn analyze(
    chain_der: &[Vec<u8>],
    host: &str,
    now: i64,
    classifier: &Classifier,
    ccadb: &Table,
) -> Result<Analysis, CheckError> {
    if chain_der.is_empty() {
        return Err(CheckError::EmptyChain);
    }
    let chain =
        parse_chain(chain_der).map_err(|(index, error)| CheckError::Cert { index, error })?;
    let trust = classifier.classify(&chain, host, now);
    let ca = CaIdentity::of(&chain, &trust, ccadb).ok_or(CheckError::EmptyChain)?;
    Ok(Analysis { chain, trust, ca })
}

/// Gathers evidence beyond chain and history (CT, pins, interceptors…).
///
/// Implementations must be cheap and local (no network): look-ups that need
/// the network and a first verdict are [`Enricher`]s.
pub trait EvidenceSource: Send + Sync {
    /// Adds what this source knows to `evidence`.
    fn gather(
        &self,
        site: &Site,
        analysis: &Analysis,
        probed: Option<&Probed>,
        now: i64,
        evidence: &mut Evidence,
    );
}

/// Evidence worth its cost only when a first judgement calls for it (CAA on
/// a CA change). May use the network; the engine calls it with no store
/// transaction open and no shared state locked.
pub trait Enricher: Send + Sync {
    /// Whether `first` (judged against `history` with the evidence so far)
    /// calls for this enricher.
    fn wanted(&self, evidence: &Evidence, history: &History, first: &Verdict) -> bool;
    /// Starts slow set-up (a connection) in the background when a probe
    /// starts, so that [`Enricher::enrich`] waits less. Must not block.
    fn warm(&self) {}
    /// Adds what it finds to `evidence`. An error is one line for the user
    /// and gives no evidence (it never makes a verdict worse).
    fn enrich(
        &self,
        site: &Site,
        analysis: &Analysis,
        evidence: &mut Evidence,
        now: i64,
    ) -> Result<(), String>;
}

/// A chain analysed with its local evidence: the half of a check that needs
/// no store (safe on worker threads).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Parsed and classified chain.
    pub analysis: Analysis,
    /// Evidence so far.
    pub evidence: Evidence,
    /// The handshake, when the chain came from a probe.
    pub probed: Option<ProbedSummary>,
}

/// A complete check result.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The site.
    pub site: Site,
    /// When, Unix seconds.
    pub at: i64,
    /// Parsed and classified chain.
    pub analysis: Analysis,
    /// The evidence used.
    pub evidence: Evidence,
    /// The verdict.
    pub verdict: Verdict,
    /// The handshake, when the chain came from a probe.
    pub probed: Option<ProbedSummary>,
    /// Whether it was written to the store.
    pub stored: bool,
    /// One-line problems that cost evidence but not the verdict (a failed
    /// CAA look-up): the front end shows them (stderr, log).
    pub warnings: Vec<String>,
}

/// Handshake facts worth reporting.
#[derive(Debug, Clone)]
pub struct ProbedSummary {
    /// e.g. `TLSv1_3`.
    pub protocol: String,
    /// Cipher suite.
    pub cipher: String,
    /// The address connected to.
    pub peer: Option<String>,
    /// Certificates the server sent (before truncation).
    pub presented: usize,
}

impl ProbedSummary {
    fn of(p: &Probed) -> ProbedSummary {
        ProbedSummary {
            protocol: p.protocol.clone(),
            cipher: p.cipher.clone(),
            peer: p.peer.map(|a| a.to_string()),
            presented: p.presented,
        }
    }
}

/// The engine: everything shared by every check of a run. Built by
/// [`Engine::from_settings`].
#[derive(Clone)]
pub struct Engine {
    /// Trust roots.
    pub classifier: Arc<Classifier>,
    /// CCADB disclosures: who operates each public CA.
    pub ccadb: Arc<Table>,
    /// How to connect.
    pub probe: ProbeConfig,
    /// Local evidence from what the user declared in the store (pins,
    /// acknowledged interceptors); see [`Engine::reload_user`].
    pub user_evidence: Vec<Arc<dyn EvidenceSource>>,
    /// Other local evidence (CT), consulted after `user_evidence`.
    pub evidence: Vec<Arc<dyn EvidenceSource>>,
    /// The CT source among `evidence`, when a log list is in use: the
    /// daemon's daily refresh replaces its list
    /// ([`crate::ct::CtEvidenceSource::replace`]).
    pub ct: Option<Arc<crate::ct::CtEvidenceSource>>,
    /// Evidence that needs a first verdict (CAA).
    pub enrichers: Vec<Arc<dyn Enricher>>,
    /// `expires_soon` thresholds; `None` = no expiry rule (browser visits,
    /// where a site's renewal is not the visitor's business).
    pub expiry: Option<ExpiryPolicy>,
}

impl Engine {
    /// Probes `site` (network only; safe to call from many threads). The
    /// proxy comes from `env`'s proxy variables; `connect` overrides
    /// `--connect` for this site (watched sites carry their own).
    pub fn probe(
        &self,
        site: &Site,
        connect: Option<&str>,
        env: &dyn Env,
    ) -> Result<Probed, CheckError> {
        self.probe_starttls(site, connect, self.probe.starttls, env)
    }

    /// [`Engine::probe`], upgrading with `starttls` first (a check target's
    /// protocol: `smtp://…`, `--starttls`).
    pub fn probe_starttls(
        &self,
        site: &Site,
        connect: Option<&str>,
        starttls: Option<StartTls>,
        env: &dyn Env,
    ) -> Result<Probed, CheckError> {
        for e in &self.enrichers {
            e.warm();
        }
        let mut cfg = self.probe.clone();
        cfg.starttls = starttls;
        if let Some(c) = connect {
            cfg.connect_to = Some(c.to_string());
        }
        cfg.proxy = proxy_for(&site.host, env).map_err(|e| ProbeError::Proxy(e.to_string()))?;
        Ok(probe::probe(site, &cfg)?)
    }

    /// Analyses a probed or given chain and gathers the local evidence.
    pub fn prepare(
        &self,
        site: &Site,
        chain_der: &[Vec<u8>],
        probed: Option<&Probed>,
        now: i64,
    ) -> Result<Prepared, CheckError> {
        let analysis = analyze(chain_der, &site.host, now, &self.classifier, &self.ccadb)?;
        let mut evidence = Evidence::default();
        let path: Vec<&CertInfo> = analysis
            .trust
            .path
            .iter()
            .filter_map(|i| analysis.chain.get(*i))
            .collect();
        evidence.undisclosed = disclosure::undisclosed(
            &self.ccadb,
            analysis.trust.kind,
            &path,
            &analysis.ca.root_spki,
        );
        for src in self.user_evidence.iter().chain(&self.evidence) {
            src.gather(site, &analysis, probed, now, &mut evidence);
        }
        evidence.expiry = self.expiry;
        Ok(Prepared {
            analysis,
            evidence,
            probed: probed.map(ProbedSummary::of),
        })
    }

    /// Runs the enrichers a first judgement against `history` calls for.
    /// Returns their one-line failures.
    pub fn enrich(
        &self,
        site: &Site,
        p: &mut Prepared,
        history: &History,
        now: i64,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.enrichers.is_empty() {
            return warnings;
        }
        let history = with_operators(history, &self.ccadb);
        let first = judge_with(site, now, &p.analysis, &p.evidence, &history);
        for e in &self.enrichers {
            if e.wanted(&p.evidence, &history, &first) {
                if let Err(w) = e.enrich(site, &p.analysis, &mut p.evidence, now) {
                    warnings.push(w);
                }
            }
        }
        warnings
    }

    /// The store half: history → enrichers → judge and record.
    pub fn finish(
        &self,
        site: &Site,
        mut p: Prepared,
        rec: &mut dyn Recorder,
        now: i64,
    ) -> Result<Checked, CheckError> {
        let warnings = if self.enrichers.is_empty() {
            Vec::new()
        } else {
            let history = rec.history(site)?;
            self.enrich(site, &mut p, &history, now)
        };
        let Prepared {
            analysis,
            evidence,
            probed,
        } = p;
        let (verdict, stored) = rec.record(site, &analysis, now, &|h: &History| {
            judge_with(
                site,
                now,
                &analysis,
                &evidence,
                &with_operators(h, &self.ccadb),
            )
        })?;
        Ok(Checked {
            site: site.clone(),
            at: now,
            analysis,
            evidence,
            verdict,
            probed,
            stored,
            warnings,
        })
    }

    /// The whole pipeline for one site: probe, prepare, finish.
    pub fn observe(
        &self,
        site: &Site,
        connect: Option<&str>,
        env: &dyn Env,
        rec: &mut dyn Recorder,
        now: i64,
    ) -> Result<Checked, CheckError> {
        let probed = self.probe(site, connect, env)?;
        let p = self.prepare(site, &probed.chain, Some(&probed), now)?;
        self.finish(site, p, rec, now)
    }

    /// Re-reads the user's declarations (pins, acknowledged interceptors)
    /// from `store`: a long-running front end calls it when
    /// [`Store::change_stamp`] moved, so that `certwatch pins add` or
    /// `accept-interceptor` take effect before its next check.
    pub fn reload_user(&mut self, store: Option<&mut Store>) -> Result<(), StoreError> {
        self.user_evidence = crate::pins::source::standard_sources(store)?;
        Ok(())
    }
}

/// `history` with the operator of every identity recorded without one,
/// resolved from its keys against `table` (the store keeps keys, not
/// operators, so a newer table re-decides old sightings the same way).
pub fn with_operators(history: &History, table: &Table) -> History {
    let mut h = history.clone();
    for s in &mut h.sightings {
        s.ca.resolve_operator(table);
    }
    for a in &mut h.accepted {
        a.ca.resolve_operator(table);
    }
    for s in &mut h.ct_seed {
        s.resolve_operator(table);
    }
    h
}

/// The judge over a prepared analysis (pure).
fn judge_with(
    site: &Site,
    now: i64,
    analysis: &Analysis,
    evidence: &Evidence,
    history: &History,
) -> Verdict {
    judge(&Input {
        host: &site.host,
        now,
        chain: &analysis.chain,
        trust: &analysis.trust,
        ca: &analysis.ca,
        history,
        evidence,
    })
}

/// The current Unix time (the edge's clock).
///
/// `CERTWATCH_FAKE_NOW=UNIX_SECONDS` replaces it: the accuracy corpus replays
/// months of renewals in seconds with it. It can only move judgments in time,
/// never change trust, and is documented as a test hook.
pub fn unix_now() -> i64 {
    if let Some(t) = std::env::var("CERTWATCH_FAKE_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
