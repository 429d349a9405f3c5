//! The judge's vocabulary: severities, reason codes, reasons, the verdict,
//! the history it is judged against and the evidence it reads. Data only;
//! the rules are in [`super::rules`].

use crate::ca::CaIdentity;
use crate::model::CertInfo;
use crate::trust::Trust;

/// How much a verdict deserves a person's attention. Ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Nothing to see.
    Ok,
    /// Worth recording, not worth an interruption.
    Info,
    /// Look at this.
    Warning,
    /// Possible interception or misissuance: act.
    Critical,
}

impl Severity {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Inverse of [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "ok" => Severity::Ok,
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// Stable reason codes. Scripts match on these strings; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// No history for this site yet.
    FirstSeen,
    /// Exactly this certificate was seen before.
    Unchanged,
    /// New certificate from a CA that already vouched for this site.
    Renewed,
    /// Same CA, different issuing intermediate.
    IntermediateRotated,
    /// The issuing CA owner was never seen for this site.
    CaChanged,
    /// The issuer's name was seen before but its key is new.
    KeyChanged,
    /// The chain validates only through a locally installed root.
    LocalRoot,
    /// No path to any trusted root.
    Untrusted,
    /// Past notAfter.
    Expired,
    /// Before notBefore.
    NotYetValid,
    /// The certificate does not cover the host name.
    NameMismatch,
    /// The user accepted this CA (or key) for this site.
    Accepted,
    /// No SCTs at all on a certificate that should have them.
    SctMissing,
    /// At least one SCT failed verification.
    SctInvalid,
    /// The chain meets the CT policy.
    CtCompliant,
    /// The chain does not meet the CT policy.
    CtNotCompliant,
    /// The chain matches the site's pinset.
    PinOk,
    /// The chain violates the site's pinset.
    PinViolation,
    /// No pinset applies.
    NotPinned,
    /// CAA allows the new CA.
    CaaAllows,
    /// CAA forbids the new CA.
    CaaForbids,
    /// No CAA record restricts issuance.
    CaaNone,
    /// The local root is a known interception product (named).
    InterceptorKnown,
    /// The browser received a different chain than certwatch's own probe.
    BrowserChainDiffers,
    /// The leaf expires within the expiry thresholds (CLI and daemon only).
    ExpiresSoon,
    UndisclosedIntermediate,
    DisclosureUnknown,
    /// First contact with a CT-watched site, from a CA its CT issuances show.
    FirstSeenCtFamiliar,
    /// First contact with a CT-watched site, from a CA none of its CT
    /// issuances show.
    FirstSeenCtUnfamiliar,
    /// A CT watch found an issuance from a CA operator the site never used.
    CtUnfamiliarIssuer,
    /// No other machine of the fleet ever saw this CA operator for the site,
    /// while others recently saw another (`verdict::fleet`).
    FleetOutlier,
    /// Most machines of the fleet that checked the site recently see the
    /// same CA operator.
    FleetAgrees,
}

impl Code {
    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FirstSeen => "first_seen",
            Code::Unchanged => "unchanged",
            Code::Renewed => "renewed",
            Code::IntermediateRotated => "intermediate_rotated",
            Code::CaChanged => "ca_changed",
            Code::KeyChanged => "key_changed",
            Code::LocalRoot => "local_root",
            Code::Untrusted => "untrusted",
            Code::Expired => "expired",
            Code::NotYetValid => "not_yet_valid",
            Code::NameMismatch => "name_mismatch",
            Code::Accepted => "accepted",
            Code::SctMissing => "sct_missing",
            Code::SctInvalid => "sct_invalid",
            Code::CtCompliant => "ct_compliant",
            Code::CtNotCompliant => "ct_not_compliant",
            Code::PinOk => "pin_ok",
            Code::PinViolation => "pin_violation",
            Code::NotPinned => "not_pinned",
            Code::CaaAllows => "caa_allows",
            Code::CaaForbids => "caa_forbids",
            Code::CaaNone => "caa_none",
            Code::InterceptorKnown => "interceptor_known",
            Code::BrowserChainDiffers => "browser_chain_differs",
            Code::ExpiresSoon => "expires_soon",
            Code::UndisclosedIntermediate => "undisclosed_intermediate",
            Code::DisclosureUnknown => "disclosure_unknown",
            Code::FirstSeenCtFamiliar => "first_seen_ct_familiar",
            Code::FirstSeenCtUnfamiliar => "first_seen_ct_unfamiliar",
            Code::CtUnfamiliarIssuer => "ct_unfamiliar_issuer",
            Code::FleetOutlier => "fleet_outlier",
            Code::FleetAgrees => "fleet_agrees",
        }
    }
}

/// One explained finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Stable code.
    pub code: Code,
    /// This finding's own severity.
    pub severity: Severity,
    /// One line in plain words. Contains certificate text: sanitise before printing.
    pub message: String,
}

/// The outcome of judging one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The worst reason's severity.
    pub severity: Severity,
    /// All findings, worst first.
    pub reasons: Vec<Reason>,
    /// The CA that vouched for the site before, when it differs from now.
    pub previous_ca: Option<CaIdentity>,
}

impl Verdict {
    /// Whether any reason has `code`.
    pub fn has(&self, code: Code) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

/// A past sighting of a site, as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastSighting {
    /// Leaf SHA-256 (hex).
    pub leaf_sha256: String,
    /// Leaf SPKI SHA-256 (base64).
    pub leaf_spki: String,
    /// Leaf notAfter, Unix seconds.
    pub leaf_not_after: i64,
    /// The CA identity then.
    pub ca: CaIdentity,
    /// First time seen, Unix seconds.
    pub first_seen: i64,
    /// Last time seen, Unix seconds.
    pub last_seen: i64,
}

/// A CA (or, for untrusted chains, a key) the user accepted for a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCa {
    /// The accepted CA identity.
    pub ca: CaIdentity,
    /// The leaf key accepted with it (used for untrusted chains).
    pub leaf_spki: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// What the store knows about a site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Distinct sightings, oldest first (by last_seen).
    pub sightings: Vec<PastSighting>,
    /// User acceptances for this site.
    pub accepted: Vec<AcceptedCa>,
    /// The issuing CAs a CT watch of a domain covering this site found
    /// familiar (keys; operators resolved from CCADB): what a first
    /// contact is judged against.
    pub ct_seed: Vec<CaIdentity>,
}

/// Certificate Transparency evidence for the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtEvidence {
    /// Compliant with the CT policy.
    pub compliant: bool,
    /// Why (or why not), one line.
    pub reason: String,
    /// SCTs found.
    pub total: usize,
    /// SCTs whose signature failed.
    pub invalid: usize,
    /// SCTs that cannot be judged: from logs not in the loaded lists, or
    /// embedded without the issuer certificate.
    pub unknown_log: usize,
    /// Every SCT found, with its status.
    pub scts: Vec<SctReport>,
    /// The date of the log list judged with (Unix seconds), when known.
    pub list_date: Option<i64>,
    /// The list is older than 70 days at the check time: Chrome would no
    /// longer enforce CT with it, and newer logs are `unknown_log`.
    pub list_stale: bool,
}

/// One SCT as reported (see [`crate::ct`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctReport {
    /// Base64 log id.
    pub log_id: String,
    /// The log's description, when the log is known.
    pub log_name: Option<String>,
    /// The log's operator, when the log is known.
    pub operator: Option<String>,
    /// SCT timestamp, milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// `embedded`, `tls_extension` or `ocsp`.
    pub source: &'static str,
    /// `valid`, `invalid`, `unknown_log`, `future_timestamp`, `log_not_usable_at_time`, `no_issuer`.
    pub status: &'static str,
}

/// Pin evidence for the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinEvidence {
    /// A pinset applies and the chain matches.
    Ok {
        /// The pin entry (host pattern).
        entry: String,
        /// The pinset name.
        pinset: String,
        /// SHA-256 (base64) of the pinned key found on the chain's path.
        matched_spki: String,
    },
    /// A pinset applies and the chain violates it.
    Violation {
        /// The pin entry (host pattern).
        entry: String,
        /// The pinset name.
        pinset: String,
        /// Why, one line.
        detail: String,
    },
    /// No (enforced) pinset applies.
    NotPinned,
}

/// CAA evidence for the new CA, looked up only on a CA change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaEvidence {
    /// The domain's CAA set lists the new CA's issuer domain.
    Allows {
        /// Where the CAA set was found.
        domain: String,
    },
    /// The domain's CAA set does not list the new CA.
    Forbids {
        /// Where the CAA set was found.
        domain: String,
        /// The issuer domains it allows.
        allowed: Vec<String>,
    },
    /// No CAA records up to the root.
    None,
}

/// Evidence gathered at the edges, beyond chain and history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// CT evaluation, when log lists are available.
    pub ct: Option<CtEvidence>,
    /// Pin evaluation, when pinsets are loaded.
    pub pin: Option<PinEvidence>,
    /// CAA evaluation (only on a CA change, when enabled).
    pub caa: Option<CaaEvidence>,
    /// Name of a known interception product, when the local root matches one.
    pub interceptor: Option<String>,
    /// The user acknowledged this local root network-wide (`accept-interceptor`).
    pub interceptor_accepted: Option<String>,
    /// The browser saw a different chain: a description of the difference.
    pub browser_chain_differs: Option<String>,
    /// Expiry thresholds: set by `certwatch check` and the daemon, absent for
    /// browser visits (where `expires_soon` would be noise).
    pub expiry: Option<super::expiry::ExpiryPolicy>,
    /// An intermediate on the verified public path that CCADB does not list.
    pub undisclosed: Option<crate::ccadb::disclosure::Missing>,
    /// What the organisation's other machines saw of the site (fleet mode).
    pub fleet: Option<super::fleet::FleetEvidence>,
}

/// Everything the judge looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The site's host name.
    pub host: &'a str,
    /// "Now", Unix seconds (injected: the judge reads no clock).
    pub now: i64,
    /// The presented chain, leaf first (non-empty).
    pub chain: &'a [CertInfo],
    /// Its trust classification.
    pub trust: &'a Trust,
    /// Its CA identity.
    pub ca: &'a CaIdentity,
    /// The site's history, *before* this observation.
    pub history: &'a History,
    /// Extra evidence.
    pub evidence: &'a Evidence,
}
