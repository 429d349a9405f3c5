//! The evidence rules: what the sources beyond history found (CT, pins,
//! CAA, named interceptors, CCADB disclosure, the browser's own chain),
//! each a [`Reason`] of its own severity. How evidence raises or lowers a
//! CA change is decided in one place, `rules::ca_change_severity`. Pure.

use super::rules::{date, push};
use super::vocab::*;
use crate::trust::TrustKind;

pub(super) fn evidence_rules(input: &Input<'_>, reasons: &mut Vec<Reason>) {
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
    if let Some(m) = &e.undisclosed {
        let name = crate::sanitize::sanitize(&m.name);
        if m.too_new {
            push(
                reasons,
                Code::DisclosureUnknown,
                Severity::Info,
                format!(
                    "the intermediate \"{name}\" was issued on {}, after the CCADB data used here ({}, from {}): whether it was disclosed cannot be told yet (run `certwatch ccadb update`)",
                    date(m.not_before),
                    m.data_date,
                    m.data_source
                ),
            );
        } else {
            push(
                reasons,
                Code::UndisclosedIntermediate,
                Severity::Warning,
                format!(
                    "the intermediate CA \"{name}\" (SHA-256 {}) chains to a publicly trusted root but is not disclosed in CCADB as of {}: root programs require every such CA to be disclosed and audited, so an undisclosed one is either a compliance failure or a CA issuing outside its audits",
                    m.sha256, m.data_date
                ),
            );
        }
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
