//! The pin [`EvidenceSource`]: fills [`Evidence::pin`].

use std::sync::Arc;

use crate::check::{Analysis, EvidenceSource};
use crate::interceptor::{self, AcceptedRoot, InterceptorSource};
use crate::probe::{Probed, Site};
use crate::store::{Store, StoreError};
use crate::verdict::{Evidence, PinEvidence};

use super::path::path_spkis;
use super::{PinCheck, PinDb};
use crate::store::pins as user;

/// Shipped pins with the user's (from `store`) layered on top.
pub fn effective_pins(store: Option<&mut Store>) -> Result<PinDb, StoreError> {
    let mut db = super::shipped();
    if let Some(s) = store {
        db.layer(user::load(s)?);
    }
    Ok(db)
}

/// The standard evidence sources of this module, for any front end (CLI,
/// daemon, native host): pins (shipped + user) and interceptor naming with
/// the user's acknowledged roots. Without a store: shipped data only.
pub fn standard_sources(
    mut store: Option<&mut Store>,
) -> Result<Vec<Arc<dyn EvidenceSource>>, StoreError> {
    let accepted: Vec<AcceptedRoot> = match store.as_deref_mut() {
        Some(s) => user::accepted_interceptors(s)?
            .into_iter()
            .map(|a| AcceptedRoot {
                root_spki: a.root_spki,
                network: a.network,
            })
            .collect(),
        None => Vec::new(),
    };
    let db = effective_pins(store)?;
    let exempt = accepted.iter().map(|a| a.root_spki.clone()).collect();
    Ok(vec![
        Arc::new(PinEvidenceSource::new(db).with_exempt_roots(exempt)),
        Arc::new(InterceptorSource::new(
            interceptor::shipped_products(),
            accepted,
        )),
    ])
}

/// Checks every chain against a pin database (shipped pins layered under the
/// user's, typically).
///
/// Chains that validate through a local root the user acknowledged as their
/// network's interception proxy (`accept-interceptor`) are exempt: like
/// browsers, which do not enforce pins through locally installed roots, the
/// acknowledged proxy is reported once as `info`, not as a pin violation on
/// every pinned site. Any other local root is still judged against the pins.
#[derive(Debug, Clone, Default)]
pub struct PinEvidenceSource {
    db: PinDb,
    exempt_roots: Vec<String>,
}

impl PinEvidenceSource {
    /// A source over `db`.
    pub fn new(db: PinDb) -> Self {
        PinEvidenceSource {
            db,
            exempt_roots: Vec::new(),
        }
    }

    /// Exempts chains anchored (as `local`) at these root SPKIs (base64).
    pub fn with_exempt_roots(mut self, roots: Vec<String>) -> Self {
        self.exempt_roots = roots;
        self
    }

    /// The database used.
    pub fn db(&self) -> &PinDb {
        &self.db
    }

    /// The full outcome for one analysed chain.
    pub fn evaluate(&self, host: &str, analysis: &Analysis, now: i64) -> PinCheck {
        let spkis = path_spkis(&analysis.chain, &analysis.trust);
        self.db.check(host, &spkis, now)
    }
}

/// Maps a [`PinCheck`] to the judge's evidence.
pub fn to_evidence(c: &PinCheck) -> PinEvidence {
    match c {
        PinCheck::NotPinned | PinCheck::Expired { .. } => PinEvidence::NotPinned,
        PinCheck::Ok {
            entry,
            pinset,
            matched,
            ..
        } => PinEvidence::Ok {
            entry: entry.describe(),
            pinset: pinset.clone(),
            matched_spki: matched.spki.clone(),
        },
        PinCheck::Violation {
            entry,
            pinset,
            detail,
            ..
        } => PinEvidence::Violation {
            entry: entry.describe(),
            pinset: pinset.clone(),
            detail: detail.clone(),
        },
    }
}

impl EvidenceSource for PinEvidenceSource {
    fn gather(
        &self,
        site: &Site,
        analysis: &Analysis,
        _probed: Option<&Probed>,
        now: i64,
        evidence: &mut Evidence,
    ) {
        let exempt = analysis.trust.kind == crate::trust::TrustKind::Local
            && analysis
                .trust
                .anchor
                .as_ref()
                .is_some_and(|a| self.exempt_roots.contains(&a.spki_sha256));
        if exempt {
            evidence.pin = Some(PinEvidence::NotPinned);
            return;
        }
        evidence.pin = Some(to_evidence(&self.evaluate(&site.host, analysis, now)));
    }
}
