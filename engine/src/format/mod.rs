//! Machine formats of check results for monitoring systems: Nagios/Icinga
//! plugin output ([`nagios`]) and the OpenMetrics text exposition
//! ([`openmetrics`]), used by `certwatch check --format …` and the
//! daemon's `metrics_textfile`.
//!
//! Pure: both work on [`SiteSummary`], the few facts of one site's check
//! they need (built from a [`Checked`], a failed check, or a stored
//! sighting), so the CLI and the daemon print the same thing. Certificate
//! text reaches the output only through each format's own escaping.

pub mod nagios;
pub mod openmetrics;

use crate::check::{CheckError, Checked};
use crate::probe::Site;
use crate::store::TimelineEntry;
use crate::verdict::Severity;

/// A monitoring state: the exit code of `certwatch check`
/// (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 0: ok or info.
    Ok,
    /// 1: warning.
    Warning,
    /// 2: critical.
    Critical,
    /// 3: could not check.
    Unknown,
}

impl State {
    /// The plugin / process exit code.
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// Aggregation rank for several sites: CRITICAL > UNKNOWN > WARNING > OK.
    fn rank(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Unknown => 2,
            State::Critical => 3,
        }
    }

    /// The worse of two states.
    pub fn worst(self, other: State) -> State {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl From<Severity> for State {
    fn from(s: Severity) -> State {
        match s {
            Severity::Ok | Severity::Info => State::Ok,
            Severity::Warning => State::Warning,
            Severity::Critical => State::Critical,
        }
    }
}

/// What the monitoring formats say about one site. Strings are raw
/// (possibly from a certificate); each format escapes them.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSummary {
    /// The site.
    pub site: Site,
    /// When it was checked (or last seen), Unix seconds.
    pub at: i64,
    /// The verdict's severity; `None` when the check failed.
    pub severity: Option<Severity>,
    /// One line: the most severe reason, or the CA when all is well, or the error.
    pub summary: String,
    /// Further lines: every reason (`severity code: message`).
    pub details: Vec<String>,
    /// The company operating the CA (CCADB), else the brand on the certificate.
    pub ca_operator: Option<String>,
    /// The leaf's notBefore and notAfter, Unix seconds.
    pub validity: Option<(i64, i64)>,
    /// The expiry thresholds in effect, seconds before notAfter (warn, crit);
    /// `None` when the expiry rule did not apply.
    pub thresholds: Option<(i64, i64)>,
    /// CT policy compliance, when CT was evaluated.
    pub ct_compliant: Option<bool>,
    /// SCTs found, when CT was evaluated.
    pub sct_count: Option<usize>,
    /// Certificates in the chain as judged.
    pub chain_length: Option<usize>,
}

impl SiteSummary {
    /// From a completed check.
    pub fn from_checked(c: &Checked) -> SiteSummary {
        let v = &c.verdict;
        let ca = &c.analysis.ca;
        let leaf = c.analysis.chain.first();
        let validity = leaf.map(|l| (l.not_before, l.not_after));
        let top = v
            .reasons
            .iter()
            .filter(|r| r.severity >= Severity::Warning)
            .max_by_key(|r| r.severity);
        let summary = match (top, validity) {
            (Some(r), _) => r.message.clone(),
            (None, Some((_, na))) => format!("{}, expires {}", ca.short(), expires_in(na - c.at)),
            (None, None) => ca.short().to_string(),
        };
        SiteSummary {
            site: c.site.clone(),
            at: c.at,
            severity: Some(v.severity),
            summary,
            details: v
                .reasons
                .iter()
                .map(|r| format!("{} {}: {}", r.severity.as_str(), r.code.as_str(), r.message))
                .collect(),
            ca_operator: Some(ca.answering().unwrap_or(ca.short()).to_string()),
            validity,
            thresholds: c
                .evidence
                .expiry
                .zip(validity)
                .map(|(p, (nb, na))| p.thresholds(nb, na)),
            ct_compliant: c.evidence.ct.as_ref().map(|ct| ct.compliant),
            sct_count: c.evidence.ct.as_ref().map(|ct| ct.scts.len()),
            chain_length: Some(c.analysis.chain.len()),
        }
    }

    /// From a check that reached no verdict.
    pub fn failed(site: &Site, at: i64, e: &CheckError) -> SiteSummary {
        SiteSummary {
            site: site.clone(),
            at,
            severity: None,
            summary: format!("{}: {e}", e.kind()),
            details: Vec::new(),
            ca_operator: None,
            validity: None,
            thresholds: None,
            ct_compliant: None,
            sct_count: None,
            chain_length: None,
        }
    }

    /// From the site's latest stored sighting (the daemon before its first
    /// check of the site): its certificate, CA and the severity it was
    /// first judged with; no CT facts (they are not stored).
    pub fn from_history(site: &Site, e: &TimelineEntry) -> SiteSummary {
        let ca = &e.sighting.ca;
        SiteSummary {
            site: site.clone(),
            at: e.sighting.last_seen,
            severity: Some(e.severity),
            summary: format!("{} (last seen)", ca.short()),
            details: Vec::new(),
            ca_operator: Some(ca.answering().unwrap_or(ca.short()).to_string()),
            validity: Some((e.leaf_not_before, e.sighting.leaf_not_after)),
            thresholds: None,
            ct_compliant: None,
            sct_count: None,
            chain_length: None,
        }
    }

    /// The monitoring state (UNKNOWN for a failed check).
    pub fn state(&self) -> State {
        self.severity.map(State::from).unwrap_or(State::Unknown)
    }
}

/// "in 59 days", "in 5 hours", "3 days ago".
fn expires_in(left: i64) -> String {
    const DAY: i64 = 86_400;
    match left {
        l if l >= DAY => format!("in {} days", l / DAY),
        l if l > 0 => format!("in {} hours", (l / 3600).max(1)),
        l => format!("{} days ago", -l / DAY),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A summary for the format tables.
    pub(crate) fn sample(host: &str, severity: Option<Severity>) -> SiteSummary {
        SiteSummary {
            site: Site {
                host: host.into(),
                port: 443,
            },
            at: 1_800_000_000,
            severity,
            summary: "Let's Encrypt, expires in 59 days".into(),
            details: vec![],
            ca_operator: Some("Internet Security Research Group".into()),
            validity: Some((1_800_000_000 - 31 * 86_400, 1_800_000_000 + 59 * 86_400)),
            thresholds: Some((14 * 86_400, 7 * 86_400)),
            ct_compliant: Some(true),
            sct_count: Some(2),
            chain_length: Some(2),
        }
    }

    #[test]
    fn state_table() {
        use State::*;
        for (a, b, w) in [
            (Ok, Warning, Warning),
            (Warning, Unknown, Unknown),
            (Unknown, Critical, Critical),
            (Ok, Ok, Ok),
        ] {
            assert_eq!(a.worst(b), w);
            assert_eq!(b.worst(a), w);
        }
        assert_eq!(State::from(Severity::Info), Ok);
        assert_eq!(sample("a", None).state(), Unknown);
        assert_eq!(Critical.code(), 2);
        assert_eq!(expires_in(59 * 86_400 + 5), "in 59 days");
        assert_eq!(expires_in(7200), "in 2 hours");
        assert_eq!(expires_in(-2 * 86_400), "2 days ago");
    }
}
