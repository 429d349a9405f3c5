//! The pin [`EvidenceSource`]: fills [`Evidence::pin`].

use crate::check::{Analysis, EvidenceSource};
use crate::probe::{Probed, Site};
use crate::verdict::{Evidence, PinEvidence};

use super::path::path_spkis;
use super::{PinCheck, PinDb};

/// Checks every chain against a pin database (shipped pins layered under the
/// user's, typically).
#[derive(Debug, Clone, Default)]
pub struct PinEvidenceSource {
    db: PinDb,
}

impl PinEvidenceSource {
    /// A source over `db`.
    pub fn new(db: PinDb) -> Self {
        PinEvidenceSource { db }
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
        evidence.pin = Some(to_evidence(&self.evaluate(&site.host, analysis, now)));
    }
}
