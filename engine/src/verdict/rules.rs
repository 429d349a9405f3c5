//! The rules: [`judge`] runs them in order; each adds [`Reason`]s with its own
//! severity, and [`ca_change_severity`] is the one place where evidence
//! raises or lowers a CA change. Pure: no I/O, no clock.

use super::fleet::Finding;
use super::vocab::*;
use crate::ca::CaIdentity;
use crate::trust::TrustKind;

const DAY: i64 = 86_400;

/// Judges one observation.
pub fn judge(input: &Input<'_>) -> Verdict {
    let mut reasons = Vec::new();
    let accepted = accepted_match(input);
    let previous = input.history.sightings.last();

    validity_rules(input, &mut reasons);
    expiry_rule(input, &mut reasons);
    trust_rules(input, accepted.as_ref(), &mut reasons);
    let previous_ca = history_rules(input, accepted.as_ref(), &mut reasons);
    super::evidence::evidence_rules(input, &mut reasons);
    super::fleet::fleet_rules(input, &mut reasons);

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

pub(super) fn push(reasons: &mut Vec<Reason>, code: Code, severity: Severity, message: String) {
    reasons.push(Reason {
        code,
        severity,
        message,
    });
}

pub(super) fn date(t: i64) -> String {
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

/// `expires_soon`, when the caller asked for it (CLI and daemon, not browser visits).
fn expiry_rule(input: &Input<'_>, reasons: &mut Vec<Reason>) {
    let Some(policy) = &input.evidence.expiry else {
        return;
    };
    let leaf = &input.chain[0];
    if input.trust.expired || input.trust.not_yet_valid {
        return;
    }
    if let Some(r) = policy.assess(leaf.not_before, leaf.not_after, input.now) {
        reasons.push(r);
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

/// A first contact with a site whose domain a CT watch follows: the CA
/// must be one the watch found issuing for it (same key, or the same CCADB
/// operator), else the first contact is a warning, not a mere first sighting.
fn ct_seed_rule(ca: &CaIdentity, seed: &[CaIdentity], reasons: &mut Vec<Reason>) {
    if seed.is_empty() {
        return;
    }
    if seed.iter().any(|s| ca.same_owner(s)) {
        push(
            reasons,
            Code::FirstSeenCtFamiliar,
            Severity::Ok,
            format!(
                "the CT watch of this site's domain shows {} issuing for it",
                ca.short()
            ),
        );
        return;
    }
    let mut seen: Vec<String> = seed
        .iter()
        .map(|s| s.operator.clone().unwrap_or_else(|| s.short().to_string()))
        .collect();
    seen.sort();
    seen.dedup();
    push(
        reasons,
        Code::FirstSeenCtUnfamiliar,
        Severity::Warning,
        format!(
            "first contact, and the CT watch of this site's domain shows no certificate from {}; its issuances come from {}",
            ca.describe(),
            seen.join(", ")
        ),
    );
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
            if accepted.is_none() {
                ct_seed_rule(ca, &h.ct_seed, reasons);
            }
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
    let copied = ca.copies_brand_of(&last.ca);
    let mut severity = ca_change_severity(input);
    if copied {
        severity = severity.max(Severity::Warning);
    }
    push(
        reasons,
        Code::CaChanged,
        severity,
        format!(
            "CA changed: {} vouched for this site since {}; now {} does{early}. {}{}",
            last.ca.describe(),
            date(since),
            ca.describe(),
            if copied {
                format!(
                    "The new CA presents the name \"{}\" of the CA this site used, but it is another operator ({}): a CA copying another CA's names. ",
                    ca.short(),
                    ca.operator.as_deref().unwrap_or("not disclosed")
                )
            } else {
                String::new()
            },
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
/// * the fleet agrees (`fleet_agrees`): info; no machine of the fleet ever
///   saw the new operator while others see another (`fleet_outlier`): critical;
/// * otherwise (no evidence either way): warning.
///
/// A change to a CA that copies the previous CA's brand
/// ([`CaIdentity::copies_brand_of`]) is at least a warning, whatever the evidence.
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
        || e.undisclosed.as_ref().is_some_and(|m| !m.too_new)
        || matches!(e.caa, Some(CaaEvidence::Forbids { .. }))
        || e.ct
            .as_ref()
            .is_some_and(|c| !c.compliant && c.unknown_log == 0)
        || matches!(super::fleet::finding(input), Finding::Outlier { .. })
    {
        return Severity::Critical;
    }
    if matches!(super::fleet::finding(input), Finding::Agrees { .. }) {
        return Severity::Info;
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
