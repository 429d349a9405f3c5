//! One check, end to end: probe → parse → classify → evidence → judge → record.
//!
//! This is the only place that wires the pure parts ([`crate::model`],
//! [`crate::trust`], [`crate::ca`], [`crate::verdict`]) to the edges (the
//! probe's socket, the store's file, the clock). The CLI, the daemon and the
//! native host all call [`Engine`], so they give the same verdict for the
//! same input.

use std::sync::Arc;

use crate::ca::CaIdentity;
use crate::model::{parse_chain, CertInfo, Error as CertError};
use crate::probe::{self, ProbeConfig, ProbeError, Probed, Site};
use crate::store::{Store, StoreError};
use crate::trust::{Classifier, Trust};
use crate::verdict::{judge, Evidence, History, Input, Verdict};

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
) -> Result<Analysis, CheckError> {
    if chain_der.is_empty() {
        return Err(CheckError::EmptyChain);
    }
    let chain =
        parse_chain(chain_der).map_err(|(index, error)| CheckError::Cert { index, error })?;
    let trust = classifier.classify(&chain, host, now);
    let ca = CaIdentity::of(&chain, &trust).ok_or(CheckError::EmptyChain)?;
    Ok(Analysis { chain, trust, ca })
}

/// Gathers evidence beyond chain and history (CT, pins, interceptors…).
///
/// Implementations must be cheap and local; network look-ups (CAA, CT search)
/// happen only when enabled, and never inside a store transaction.
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

/// The engine: configuration shared by every check.
pub struct Engine {
    /// Trust roots.
    pub classifier: Arc<Classifier>,
    /// How to connect.
    pub probe: ProbeConfig,
    /// Evidence sources, consulted in order.
    pub evidence: Vec<Arc<dyn EvidenceSource>>,
}

impl Engine {
    /// Probes `site` (network only; safe to call from many threads).
    pub fn probe(&self, site: &Site) -> Result<Probed, ProbeError> {
        probe::probe(site, &self.probe)
    }

    /// Analyses a probe result or a given chain and gathers evidence.
    pub fn prepare(
        &self,
        site: &Site,
        chain_der: &[Vec<u8>],
        probed: Option<&Probed>,
        now: i64,
    ) -> Result<(Analysis, Evidence), CheckError> {
        let analysis = analyze(chain_der, &site.host, now, &self.classifier)?;
        let mut evidence = Evidence::default();
        for src in &self.evidence {
            src.gather(site, &analysis, probed, now, &mut evidence);
        }
        Ok((analysis, evidence))
    }

    /// Judges (and, with a store, records) a prepared analysis.
    pub fn conclude(
        &self,
        site: &Site,
        analysis: Analysis,
        evidence: Evidence,
        probed: Option<&Probed>,
        store: Option<&mut Store>,
        now: i64,
    ) -> Result<Checked, CheckError> {
        let judge_with = |h: &History| {
            judge(&Input {
                host: &site.host,
                now,
                chain: &analysis.chain,
                trust: &analysis.trust,
                ca: &analysis.ca,
                history: h,
                evidence: &evidence,
            })
        };
        let (verdict, stored) = match store {
            Some(s) => (
                s.observe(site, &analysis.chain, &analysis.ca, now, judge_with)?
                    .verdict,
                true,
            ),
            None => (judge_with(&History::default()), false),
        };
        Ok(Checked {
            site: site.clone(),
            at: now,
            probed: probed.map(|p| ProbedSummary {
                protocol: p.protocol.clone(),
                cipher: p.cipher.clone(),
                peer: p.peer.map(|a| a.to_string()),
                presented: p.presented,
            }),
            analysis,
            evidence,
            verdict,
            stored,
        })
    }

    /// Judges against an existing history without recording (`--no-store`
    /// with a readable store, and `inspect`).
    pub fn judge_only(
        &self,
        site: &Site,
        analysis: Analysis,
        evidence: Evidence,
        history: &History,
        now: i64,
    ) -> Checked {
        let verdict = judge(&Input {
            host: &site.host,
            now,
            chain: &analysis.chain,
            trust: &analysis.trust,
            ca: &analysis.ca,
            history,
            evidence: &evidence,
        });
        Checked {
            site: site.clone(),
            at: now,
            analysis,
            evidence,
            verdict,
            probed: None,
            stored: false,
        }
    }

    /// Probe + prepare + conclude.
    pub fn check(
        &self,
        site: &Site,
        store: Option<&mut Store>,
        now: i64,
    ) -> Result<Checked, CheckError> {
        let probed = self.probe(site)?;
        let (analysis, evidence) = self.prepare(site, &probed.chain, Some(&probed), now)?;
        self.conclude(site, analysis, evidence, Some(&probed), store, now)
    }
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
