//! The fleet's consensus as evidence (issue "many desktops, one view"): what
//! the organisation's other machines saw of a site, read from the fleet
//! server, against the CA operator this machine sees. Pure.
//!
//! Thresholds (README "Fleet"):
//! * *recent* is [`RECENT_SECS`] (7 days) before the check;
//! * `fleet_outlier` (critical): no other machine **ever** saw this
//!   machine's CA operator for the site, while at least [`MIN_MACHINES`] (2)
//!   other machines saw it from another operator recently. An operator the
//!   fleet has seen for the site before, however rarely (a CDN with several
//!   CAs), is never an outlier;
//! * `fleet_agrees` (ok): at least [`MIN_MACHINES`] other machines checked
//!   the site recently and more than half of them saw this machine's
//!   operator. It lowers a lone CA change from warning to info
//!   (`rules::ca_change_severity`); it never lowers a pin violation, a CAA
//!   refusal, a CT failure or a CA copying another CA's names.
//!
//! The operator compared is [`operator_key`]: the company answering for the
//! issuing CA in CCADB (decided by keys, see [`CaIdentity::answering`]), else
//! the root's key. Names from certificates are only shown.

use super::rules::push;
use super::vocab::*;
use crate::ca::CaIdentity;
use crate::trust::TrustKind;

/// What "recently" means, seconds.
pub const RECENT_SECS: i64 = 7 * 86_400;
/// Other machines needed before the fleet's view counts either way.
pub const MIN_MACHINES: u32 = 2;

/// One CA operator the fleet's other machines saw for a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetOperator {
    /// [`operator_key`] of what they saw.
    pub operator: String,
    /// A name for people (issuer organisation).
    pub ca_name: String,
    /// Distinct machines that ever saw it.
    pub machines: u32,
    /// Distinct machines that saw it recently.
    pub recent_machines: u32,
    /// First and last sighting, Unix seconds.
    pub first_seen: i64,
    /// See `first_seen`.
    pub last_seen: i64,
}

/// The other machines' view of one site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetView {
    /// Per operator.
    pub operators: Vec<FleetOperator>,
    /// Distinct other machines that saw the site recently (any operator).
    pub recent_machines: u32,
}

/// Fleet evidence of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvidence {
    /// The server answered (possibly from the cache).
    View(FleetView),
    /// No answer in time, or no server: no evidence, never an error.
    Unavailable(String),
}

/// What the view says about this machine's operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Nobody else ever saw it; `others` machines recently saw `seen`.
    Outlier {
        /// Other machines that saw another operator recently.
        others: u32,
        /// Names of what they saw, for people.
        seen: Vec<String>,
    },
    /// `same` of `of` recent machines saw the same operator.
    Agrees {
        /// Machines that agree.
        same: u32,
        /// Machines that checked recently.
        of: u32,
    },
    /// Neither.
    Nothing,
}

/// The operator identity the fleet compares: the CCADB company answering
/// for the issuing CA of a public chain, else `key:` + the root's key.
pub fn operator_key(ca: &CaIdentity) -> String {
    match (ca.trust, ca.answering()) {
        (TrustKind::Public, Some(name)) => name.to_string(),
        _ => format!("key:{}", ca.root_spki),
    }
}

/// A name for people: the issuer organisation, else the owner name.
pub fn ca_name(ca: &CaIdentity) -> String {
    ca.issuer_org.clone().unwrap_or_else(|| ca.owner.clone())
}

/// Judges this machine's operator `mine` against `view`.
pub fn assess(view: &FleetView, mine: &str) -> Finding {
    let known = view.operators.iter().any(|o| o.operator == mine);
    let same = view
        .operators
        .iter()
        .find(|o| o.operator == mine)
        .map_or(0, |o| o.recent_machines);
    if !known {
        let others: Vec<&FleetOperator> = view
            .operators
            .iter()
            .filter(|o| o.recent_machines > 0)
            .collect();
        if view.recent_machines >= MIN_MACHINES && !others.is_empty() {
            let mut seen: Vec<String> = others.iter().map(|o| o.ca_name.clone()).collect();
            seen.sort();
            seen.dedup();
            return Finding::Outlier {
                others: view.recent_machines,
                seen,
            };
        }
        return Finding::Nothing;
    }
    if view.recent_machines >= MIN_MACHINES && same * 2 > view.recent_machines {
        return Finding::Agrees {
            same,
            of: view.recent_machines,
        };
    }
    Finding::Nothing
}

/// The finding of this check's fleet evidence, if any. A local root the
/// user acknowledged as their network's proxy (`accept-interceptor`) is
/// expected to differ from what machines elsewhere see: no finding.
pub(super) fn finding(input: &Input<'_>) -> Finding {
    if input.evidence.interceptor_accepted.is_some() {
        return Finding::Nothing;
    }
    match &input.evidence.fleet {
        Some(FleetEvidence::View(v)) => assess(v, &operator_key(input.ca)),
        _ => Finding::Nothing,
    }
}

/// Adds `fleet_outlier` / `fleet_agrees`.
pub(super) fn fleet_rules(input: &Input<'_>, reasons: &mut Vec<Reason>) {
    match finding(input) {
        Finding::Outlier { others, seen } => push(
            reasons,
            Code::FleetOutlier,
            Severity::Critical,
            format!(
                "{others} other machines of the fleet saw this site from {} in the last 7 days; \
                 none ever saw it from {} as this machine does: interception on this \
                 machine or its network? (If the site has just switched CAs, the other \
                 machines will see the new one too, and this finding goes away.)",
                seen.join(", "),
                ca_name(input.ca)
            ),
        ),
        Finding::Agrees { same, of } => push(
            reasons,
            Code::FleetAgrees,
            Severity::Ok,
            format!(
                "{same} of {of} other machines of the fleet that checked this site in the last \
                 7 days see the same CA operator ({})",
                ca_name(input.ca)
            ),
        ),
        Finding::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{corp, digicert, le, row, run_rows, seen, DAY, NOW};
    use super::*;

    fn evidence(ops: &[FleetOperator], recent: u32) -> Evidence {
        Evidence {
            fleet: Some(FleetEvidence::View(view(ops, recent))),
            ..Evidence::default()
        }
    }

    #[test]
    fn judge_rows_with_fleet_evidence() {
        let soon = NOW + 5 * DAY;
        let isrg = || op("ISRG", 3, 3);
        let mut rows = Vec::new();
        let mut r = row(
            "a first contact from a CA the fleet never saw: critical",
            vec![],
            digicert(),
            Severity::Critical,
            &["first_seen", "fleet_outlier"],
        );
        r.evidence = evidence(&[isrg()], 3);
        rows.push(r);
        let mut r = row(
            "a lone CA change the fleet agrees with: info",
            vec![seen("old", digicert(), 80, soon)],
            le("R10"),
            Severity::Info,
            &["ca_changed", "fleet_agrees"],
        );
        r.evidence = evidence(&[isrg()], 3);
        rows.push(r);
        let mut r = row(
            "a CA change to an operator nobody else sees: critical",
            vec![seen("old", le("R10"), 80, soon)],
            digicert(),
            Severity::Critical,
            &["ca_changed", "fleet_outlier"],
        );
        r.evidence = evidence(&[isrg()], 3);
        rows.push(r);
        let mut r = row(
            "a CDN's second CA the fleet saw before: a plain warning, no outlier",
            vec![seen("old", le("R10"), 80, soon)],
            digicert(),
            Severity::Warning,
            &["ca_changed"],
        );
        r.evidence = evidence(&[isrg(), op("DigiCert Inc", 1, 0)], 3);
        r.not_codes = &["fleet_outlier", "fleet_agrees"];
        rows.push(r);
        let mut r = row(
            "the fleet unavailable: no evidence either way",
            vec![seen("old", le("R10"), 80, soon)],
            digicert(),
            Severity::Warning,
            &["ca_changed"],
        );
        r.evidence.fleet = Some(FleetEvidence::Unavailable("down".into()));
        r.not_codes = &["fleet_outlier", "fleet_agrees"];
        rows.push(r);
        let mut r = row(
            "the network's acknowledged proxy is not an outlier",
            vec![],
            corp(),
            Severity::Info,
            &["first_seen", "local_root"],
        );
        r.evidence = evidence(&[isrg()], 3);
        r.evidence.interceptor_accepted = Some("office".into());
        r.not_codes = &["fleet_outlier"];
        rows.push(r);
        run_rows(rows);
    }

    fn op(name: &str, machines: u32, recent: u32) -> FleetOperator {
        FleetOperator {
            operator: name.into(),
            ca_name: format!("{name} CA"),
            machines,
            recent_machines: recent,
            first_seen: 0,
            last_seen: 0,
        }
    }

    fn view(ops: &[FleetOperator], recent: u32) -> FleetView {
        FleetView {
            operators: ops.to_vec(),
            recent_machines: recent,
        }
    }

    #[test]
    fn assess_table() {
        let cases = [
            // (what, view, mine, expected)
            (
                "two others recently on LE, I see an operator nobody saw: outlier",
                view(&[op("ISRG", 2, 2)], 2),
                "key:evil",
                Finding::Outlier {
                    others: 2,
                    seen: vec!["ISRG CA".into()],
                },
            ),
            (
                "only one other machine: too few to call an outlier",
                view(&[op("ISRG", 1, 1)], 1),
                "key:evil",
                Finding::Nothing,
            ),
            (
                "the others saw the site only long ago: no recent view, no outlier",
                view(&[op("ISRG", 5, 0)], 0),
                "DigiCert",
                Finding::Nothing,
            ),
            (
                "a CDN's second CA, seen once by one machine, months ago: not an outlier",
                view(&[op("ISRG", 5, 5), op("DigiCert", 1, 0)], 5),
                "DigiCert",
                Finding::Nothing,
            ),
            (
                "most recent machines see mine: agrees",
                view(&[op("ISRG", 5, 3), op("DigiCert", 2, 1)], 4),
                "ISRG",
                Finding::Agrees { same: 3, of: 4 },
            ),
            (
                "half is not most",
                view(&[op("ISRG", 2, 2), op("DigiCert", 2, 2)], 4),
                "ISRG",
                Finding::Nothing,
            ),
            (
                "one other machine agreeing is too few",
                view(&[op("ISRG", 1, 1)], 1),
                "ISRG",
                Finding::Nothing,
            ),
            (
                "an empty view says nothing",
                view(&[], 0),
                "ISRG",
                Finding::Nothing,
            ),
        ];
        for (what, v, mine, want) in cases {
            assert_eq!(assess(&v, mine), want, "{what}");
        }
    }
}
