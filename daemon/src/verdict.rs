//! The verdict: pure functions from (observation, trust, history, evidence, now)
//! to one severity and a list of explained reasons. No I/O, no clock.
//!
//! Scoring is a pipeline of small rules, each adding [`Reason`]s with their own
//! severity; the verdict's severity is the worst reason's. Later evidence (CT,
//! pins, CAA, the browser's chain, accepted interceptors) arrives as fields of
//! [`Evidence`] and is read by its own rule, plus one place where evidence may
//! raise or lower a CA change ([`ca_change_severity`]). Adding a kind of
//! evidence never rewrites the other rules.

use crate::ca::CaIdentity;
use crate::model::CertInfo;
use crate::trust::{Trust, TrustKind};

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

const DAY: i64 = 86_400;

/// Judges one observation.
pub fn judge(input: &Input<'_>) -> Verdict {
    let mut reasons = Vec::new();
    let accepted = accepted_match(input);
    let previous = input.history.sightings.last();

    validity_rules(input, &mut reasons);
    trust_rules(input, accepted.as_ref(), &mut reasons);
    let previous_ca = history_rules(input, accepted.as_ref(), &mut reasons);
    evidence_rules(input, &mut reasons);

    reasons.sort_by_key(|r| std::cmp::Reverse(r.severity));
    let severity = reasons
        .iter()
        .map(|r| r.severity)
        .max()
        .unwrap_or(Severity::Ok);
    Verdict {
        severity,
        reasons,
        previous_ca: previous_ca.or_else(|| {
            previous
                .filter(|p| !p.ca.same_owner(input.ca))
                .map(|p| p.ca.clone())
        }),
    }
}

fn push(reasons: &mut Vec<Reason>, code: Code, severity: Severity, message: String) {
    reasons.push(Reason {
        code,
        severity,
        message,
    });
}

fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| t.to_string())
}

fn days(secs: i64) -> i64 {
    secs / DAY
}

fn validity_rules(input: &Input<'_>, reasons: &mut Vec<Reason>) {
    let leaf = &input.chain[0];
    let t = input.trust;
    if t.expired {
        let msg = if input.now > leaf.not_after {
            format!(
                "the certificate expired on {} ({} days ago)",
                date(leaf.not_after),
                days(input.now - leaf.not_after)
            )
        } else {
            "a certificate in the chain has expired".to_string()
        };
        push(reasons, Code::Expired, Severity::Critical, msg);
    }
    if t.not_yet_valid {
        push(
            reasons,
            Code::NotYetValid,
            Severity::Critical,
            format!(
                "the certificate is not valid before {} (check this computer's clock)",
                date(leaf.not_before)
            ),
        );
    }
    if t.name_mismatch {
        let names = if leaf.sans.is_empty() {
            "no DNS names".to_string()
        } else {
            let mut s: Vec<&str> = leaf.sans.iter().take(5).map(String::as_str).collect();
            if leaf.sans.len() > 5 {
                s.push("…");
            }
            s.join(", ")
        };
        push(
            reasons,
            Code::NameMismatch,
            Severity::Critical,
            format!(
                "the certificate is not valid for {} (it names {names})",
                input.host
            ),
        );
    }
}

/// The acceptance that covers this observation, if any.
fn accepted_match(input: &Input<'_>) -> Option<AcceptedCa> {
    input
        .history
        .accepted
        .iter()
        .rev()
        .find(|a| match input.trust.kind {
            TrustKind::Untrusted => {
                a.leaf_spki == input.chain[0].spki_sha256 || a.ca.root_spki == input.ca.root_spki
            }
            _ => a.ca.same_owner(input.ca),
        })
        .cloned()
}

fn has_public_history(h: &History) -> bool {
    h.sightings.iter().any(|s| s.ca.trust == TrustKind::Public)
}

fn trust_rules(input: &Input<'_>, accepted: Option<&AcceptedCa>, reasons: &mut Vec<Reason>) {
    let ca = input.ca;
    match input.trust.kind {
        TrustKind::Public => {}
        TrustKind::Local => {
            let root = &ca.root;
            let product = input
                .evidence
                .interceptor
                .as_deref()
                .map(|p| format!(" (looks like {p})"))
                .unwrap_or_default();
            if let Some(network) = &input.evidence.interceptor_accepted {
                push(
                    reasons,
                    Code::LocalRoot,
                    Severity::Info,
                    format!(
                        "validated by the locally installed root \"{root}\"{product}, which you acknowledged as the interception proxy of network \"{network}\""
                    ),
                );
            } else if let Some(a) = accepted {
                push(
                    reasons,
                    Code::LocalRoot,
                    Severity::Info,
                    format!(
                        "validated by the locally installed root \"{root}\"{product}, which you accepted for this site on {}",
                        date(a.at)
                    ),
                );
            } else if has_public_history(input.history) {
                push(
                    reasons,
                    Code::LocalRoot,
                    Severity::Critical,
                    format!(
                        "this site used a publicly trusted CA before, but this chain is validated only by the locally installed root \"{root}\"{product}: your connection is being intercepted (corporate proxy, antivirus, or malware)"
                    ),
                );
            } else {
                push(
                    reasons,
                    Code::LocalRoot,
                    Severity::Warning,
                    format!(
                        "validated only by the locally installed root \"{root}\"{product}, not by a public CA: expected for intranet sites and corporate proxies, otherwise a sign of interception"
                    ),
                );
            }
            if let Some(p) = &input.evidence.interceptor {
                push(
                    reasons,
                    Code::InterceptorKnown,
                    Severity::Info,
                    format!("the root \"{root}\" matches the interception product {p}"),
                );
            }
        }
        TrustKind::Untrusted => {
            let what = if input.trust.self_signed {
                "the certificate is self-signed".to_string()
            } else {
                let err = input
                    .trust
                    .errors
                    .first()
                    .map(String::as_str)
                    .unwrap_or("no path");
                format!(
                    "no chain to any trusted root ({err}; issuer \"{}\")",
                    ca.root
                )
            };
            match accepted {
                Some(a) => push(
                    reasons,
                    Code::Untrusted,
                    Severity::Info,
                    format!(
                        "{what}; you accepted this key for this site on {}",
                        date(a.at)
                    ),
                ),
                None => push(
                    reasons,
                    Code::Untrusted,
                    Severity::Critical,
                    format!("{what}: anyone can make such a certificate"),
                ),
            }
        }
    }
}

/// Compares with history; returns the previous CA when it changed.
fn history_rules(
    input: &Input<'_>,
    accepted: Option<&AcceptedCa>,
    reasons: &mut Vec<Reason>,
) -> Option<CaIdentity> {
    let h = input.history;
    let leaf = &input.chain[0];
    let ca = input.ca;
    let same = h.sightings.iter().find(|s| s.leaf_sha256 == leaf.sha256);
    // Judge against every *other* certificate: a repeated sighting of an
    // unaccepted CA change keeps its verdict until the user accepts it.
    let others: Vec<&PastSighting> = h
        .sightings
        .iter()
        .filter(|s| s.leaf_sha256 != leaf.sha256)
        .collect();
    if let Some(seen) = same {
        push(
            reasons,
            Code::Unchanged,
            Severity::Ok,
            format!(
                "same certificate as seen since {} (CA {})",
                date(seen.first_seen),
                ca.short()
            ),
        );
    }
    let Some(last) = others.last().copied() else {
        if same.is_none() {
            push(
                reasons,
                Code::FirstSeen,
                Severity::Ok,
                format!(
                    "first time this site is checked; recorded {} as its CA",
                    ca.describe()
                ),
            );
        }
        return None;
    };
    if same.is_none() {
        key_change_rule(input, reasons);
    }

    // CAs that legitimately vouched for this site: trusted sightings, plus acceptances.
    let known_by_history = others.iter().rev().copied().find(|s| {
        (s.ca.trust == TrustKind::Public || ca.trust != TrustKind::Public) && s.ca.same_owner(ca)
    });
    if let Some(prev) = known_by_history {
        if same.is_some() {
            return None;
        }
        let early = early_replacement(last, input.now);
        if last.ca.same_owner(ca) {
            push(
                reasons,
                Code::Renewed,
                Severity::Ok,
                format!("new certificate from the same CA ({}){early}", ca.short()),
            );
        } else {
            push(
                reasons,
                Code::Renewed,
                Severity::Ok,
                format!(
                    "new certificate from {}, a CA this site already used (first seen {}); last seen CA was {}{early}",
                    ca.short(),
                    date(prev.first_seen),
                    last.ca.short()
                ),
            );
        }
        if prev.ca.intermediate_spki.is_some()
            && ca.intermediate_spki.is_some()
            && !h
                .sightings
                .iter()
                .any(|s| s.ca.intermediate_spki == ca.intermediate_spki)
        {
            push(
                reasons,
                Code::IntermediateRotated,
                Severity::Info,
                format!(
                    "{} now issues through intermediate \"{}\" (before: \"{}\"), a routine rotation",
                    ca.short(),
                    ca.intermediate,
                    prev.ca.intermediate
                ),
            );
        }
        return None;
    }
    if let Some(a) = accepted {
        if same.is_some() {
            return None;
        }
        push(
            reasons,
            Code::Accepted,
            Severity::Ok,
            format!(
                "you accepted {} for this site on {}",
                ca.short(),
                date(a.at)
            ),
        );
        return None;
    }
    // A CA this site never used.
    let since = others
        .iter()
        .filter(|s| s.ca.same_owner(&last.ca))
        .map(|s| s.first_seen)
        .min()
        .unwrap_or(last.first_seen);
    let early = match same {
        Some(seen) => format!(" (first seen {})", date(seen.first_seen)),
        None => early_replacement(last, input.now),
    };
    let severity = ca_change_severity(input);
    push(
        reasons,
        Code::CaChanged,
        severity,
        format!(
            "CA changed: {} vouched for this site since {}; now {} does{early}. {}",
            last.ca.describe(),
            date(since),
            ca.describe(),
            match severity {
                Severity::Critical => "This is how interception and misissued certificates look.",
                Severity::Warning =>
                    "Legitimate when the site switched CAs; otherwise a sign of interception.",
                _ => "The change is publicly logged and allowed; likely a legitimate switch.",
            }
        ),
    );
    Some(last.ca.clone())
}

fn early_replacement(last: &PastSighting, now: i64) -> String {
    let left = last.leaf_not_after - now;
    if left > 30 * DAY {
        format!(
            ", although the previous certificate was still valid for {} more days",
            days(left)
        )
    } else {
        String::new()
    }
}

/// Same issuer name, different issuer key: someone may be impersonating the CA.
fn key_change_rule(input: &Input<'_>, reasons: &mut Vec<Reason>) {
    let ca = input.ca;
    let Some(new_key) = &ca.intermediate_spki else {
        return;
    };
    let same_name_other_key = input.history.sightings.iter().any(|s| {
        s.ca.intermediate == ca.intermediate
            && s.ca
                .intermediate_spki
                .as_ref()
                .is_some_and(|k| k != new_key)
    });
    let key_known = input
        .history
        .sightings
        .iter()
        .any(|s| s.ca.intermediate_spki.as_ref() == Some(new_key));
    if same_name_other_key && !key_known {
        let sev = if ca.trust == TrustKind::Public {
            Severity::Warning
        } else {
            Severity::Critical
        };
        push(
            reasons,
            Code::KeyChanged,
            sev,
            format!(
                "the issuing CA is still called \"{}\" but signs with a key never seen for this site",
                ca.intermediate
            ),
        );
    }
}

/// How bad a CA change is, given the trust class and the evidence.
///
/// * local or untrusted chain: critical;
/// * pin violation, CAA forbids, or a public chain that fails CT: critical;
/// * public, CT-compliant, pin ok or CAA allows/none: info (a logged, allowed switch);
/// * otherwise (no evidence either way): warning.
pub fn ca_change_severity(input: &Input<'_>) -> Severity {
    if input.trust.kind != TrustKind::Public {
        // A root the user acknowledged as their network's proxy (accept-interceptor).
        if input.trust.kind == TrustKind::Local && input.evidence.interceptor_accepted.is_some() {
            return Severity::Info;
        }
        return Severity::Critical;
    }
    let e = input.evidence;
    if matches!(e.pin, Some(PinEvidence::Violation { .. }))
        || matches!(e.caa, Some(CaaEvidence::Forbids { .. }))
        || e.ct
            .as_ref()
            .is_some_and(|c| !c.compliant && c.unknown_log == 0)
    {
        return Severity::Critical;
    }
    let ct_ok = e.ct.as_ref().is_some_and(|c| c.compliant);
    let pin_ok = matches!(e.pin, Some(PinEvidence::Ok { .. }));
    let caa_ok = matches!(e.caa, Some(CaaEvidence::Allows { .. } | CaaEvidence::None));
    if ct_ok && (pin_ok || caa_ok) {
        Severity::Info
    } else {
        Severity::Warning
    }
}

fn evidence_rules(input: &Input<'_>, reasons: &mut Vec<Reason>) {
    let e = input.evidence;
    let public = input.trust.kind == TrustKind::Public;
    if let Some(ct) = &e.ct {
        if ct.invalid > 0 {
            push(
                reasons,
                Code::SctInvalid,
                if public {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!(
                    "{} of {} SCTs failed signature verification",
                    ct.invalid, ct.total
                ),
            );
        }
        if ct.total == 0 {
            push(
                reasons,
                Code::SctMissing,
                if public {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                "no Signed Certificate Timestamps: no public CT log has seen this certificate"
                    .to_string(),
            );
        }
        if ct.compliant {
            push(reasons, Code::CtCompliant, Severity::Ok, ct.reason.clone());
        } else {
            let sev = if public && ct.unknown_log == 0 {
                Severity::Warning
            } else {
                Severity::Info
            };
            push(reasons, Code::CtNotCompliant, sev, ct.reason.clone());
        }
    }
    match &e.pin {
        Some(PinEvidence::Ok { entry, pinset, .. }) => push(
            reasons,
            Code::PinOk,
            Severity::Ok,
            format!("the chain matches pinset \"{pinset}\" (entry {entry})"),
        ),
        Some(PinEvidence::Violation {
            entry,
            pinset,
            detail,
        }) => push(
            reasons,
            Code::PinViolation,
            Severity::Critical,
            format!("the chain violates pinset \"{pinset}\" (entry {entry}): {detail}"),
        ),
        Some(PinEvidence::NotPinned) | None => {}
    }
    match &e.caa {
        Some(CaaEvidence::Allows { domain }) => push(
            reasons,
            Code::CaaAllows,
            Severity::Ok,
            format!("CAA records at {domain} allow the new CA"),
        ),
        Some(CaaEvidence::Forbids { domain, allowed }) => push(
            reasons,
            Code::CaaForbids,
            Severity::Critical,
            format!(
                "CAA records at {domain} allow only {} — not the new CA",
                allowed.join(", ")
            ),
        ),
        Some(CaaEvidence::None) => push(
            reasons,
            Code::CaaNone,
            Severity::Ok,
            "no CAA records restrict which CA may issue for this domain".to_string(),
        ),
        None => {}
    }
    if let Some(diff) = &e.browser_chain_differs {
        push(
            reasons,
            Code::BrowserChainDiffers,
            Severity::Critical,
            format!(
                "the browser received a different chain than certwatch's own connection: {diff}"
            ),
        );
    }
}

#[cfg(test)]
mod tests;
