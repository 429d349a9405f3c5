//! CAA (RFC 8659) as evidence after a CA change: does the site's domain
//! allow the new CA to issue for it?
//!
//! Only called when a first judgement says `ca_changed`, only for that
//! host, and only when enabled (it tells a DNS resolver which site changed).
//! Pure parts (CA → issuer domains from `engine/data/caa_domains.toml`,
//! climbing to the parent domains, reading the relevant record set) are
//! pure; the DNS look-up itself ([`resolve::evaluate`], hickory-resolver on a
//! current-thread tokio runtime made per call) is this module's only network
//! edge. [`CaaEnricher`] is how the pipeline uses it.

mod resolve;

use serde::Deserialize;

pub use resolve::evaluate;

use crate::ca::CaIdentity;
use crate::check::{Analysis, Enricher};
use crate::probe::Site;
use crate::verdict::{CaaEvidence, Evidence, History, Verdict};

/// The shipped CA → CAA issuer-domain map.
pub const CAA_DOMAINS_TOML: &str = include_str!("../../data/caa_domains.toml");

/// One CAA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRecord {
    /// Flags (128 = issuer critical).
    pub flags: u8,
    /// Tag, lowercase (`issue`, `issuewild`, `iodef`, …).
    pub tag: String,
    /// Raw value.
    pub value: String,
}

/// A CA owner and its CAA issuer domains.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaDomains {
    /// Names matched against the CCADB operator and CA Owner (as a prefix),
    /// or, for chains without an operator, owner / issuer organisation / root.
    pub names: Vec<String>,
    /// Issuer domains.
    pub domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaaFile {
    ca: Vec<CaDomains>,
}

/// Parses a CA → domains file.
pub fn parse_ca_domains(src: &str) -> Result<Vec<CaDomains>, String> {
    toml::from_str::<CaaFile>(src).map(|f| f.ca).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::pins::line_of(src, s.start))
            .unwrap_or(0);
        format!("line {line}: {}", e.message().trim())
    })
}

use crate::ca::norm;

/// The CAA issuer domains of `ca` (union over every matching data entry),
/// or `None` when the CA is not in the data.
///
/// A CA with a CCADB operator is matched by that operator alone (its name
/// must start with a data name: "DigiCert Europe Netherlands B.V." is
/// DigiCert, "Pos Digicert Sdn. Bhd" is not), so a CA that copies another
/// CA's names into its certificates is not given that CA's CAA domains.
/// Without an operator (local or untrusted chains) the names shown in the
/// chain are matched, as substrings.
pub fn issuer_domains(map: &[CaDomains], ca: &CaIdentity) -> Option<Vec<String>> {
    let matches: Box<dyn Fn(&str) -> bool> = match &ca.operator {
        Some(op) => {
            // The operator, and the CA Owner answering for an externally
            // operated CA (Amazon's CAs that DigiCert runs are named in CAA
            // as Amazon's).
            let names: Vec<String> = [Some(op), ca.ca_owner.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| norm(s))
                .collect();
            Box::new(move |n: &str| names.iter().any(|o| o.starts_with(n)))
        }
        None => {
            let hay: Vec<String> = [Some(&ca.owner), ca.issuer_org.as_ref(), Some(&ca.root)]
                .into_iter()
                .flatten()
                .map(|s| norm(s))
                .collect();
            Box::new(move |n: &str| hay.iter().any(|h| h.contains(n)))
        }
    };
    let mut out: Vec<String> = Vec::new();
    for e in map {
        if e.names.iter().any(|n| {
            let n = norm(n);
            !n.is_empty() && matches(&n)
        }) {
            for d in &e.domains {
                let d = d.to_ascii_lowercase();
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The issuer domain of an `issue`/`issuewild` value (`""` = nobody).
pub fn issue_domain(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// RFC 8659 §3: the relevant record set is the first non-empty CAA set
/// found at the host, then its parents (never the root). `lookup` returns
/// the records at one name (empty when none / NXDOMAIN).
pub fn relevant_set<E>(
    host: &str,
    mut lookup: impl FnMut(&str) -> Result<Vec<CaaRecord>, E>,
) -> Result<Option<(String, Vec<CaaRecord>)>, E> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut name = host.as_str();
    loop {
        if name.is_empty() {
            return Ok(None);
        }
        let set = lookup(name)?;
        if !set.is_empty() {
            return Ok(Some((name.to_string(), set)));
        }
        match name.find('.') {
            Some(i) => name = &name[i + 1..],
            None => return Ok(None),
        }
    }
}

/// Judges a relevant set for a CA with `ca_domains`. `wildcard`: the
/// certificate covers the host through a wildcard name (then `issuewild`
/// wins when present, RFC 8659 §4.3).
pub fn judge_set(
    domain: &str,
    set: &[CaaRecord],
    ca_domains: &[String],
    wildcard: bool,
) -> CaaEvidence {
    let issue: Vec<&CaaRecord> = set.iter().filter(|r| r.tag == "issue").collect();
    let wild: Vec<&CaaRecord> = set.iter().filter(|r| r.tag == "issuewild").collect();
    let props = if wildcard && !wild.is_empty() {
        wild
    } else {
        issue
    };
    if props.is_empty() {
        // Only iodef or other tags: issuance is not restricted.
        return CaaEvidence::None;
    }
    let allowed: Vec<String> = props.iter().map(|r| issue_domain(&r.value)).collect();
    if allowed.iter().any(|a| ca_domains.contains(a)) {
        CaaEvidence::Allows {
            domain: domain.to_string(),
        }
    } else {
        let mut shown: Vec<String> = allowed
            .into_iter()
            .map(|a| {
                if a.is_empty() {
                    "no CA (\";\")".to_string()
                } else {
                    a
                }
            })
            .collect();
        shown.dedup();
        CaaEvidence::Forbids {
            domain: domain.to_string(),
            allowed: shown,
        }
    }
}

/// Whether a CAA look-up makes sense for `host`: not for IP literals,
/// `localhost`, or special-use names (.test, .example, .invalid, .local,
/// .localhost, .internal, .lan, .home.arpa) — unless a DNS server was given
/// explicitly (tests point one at such names).
pub fn worth_looking_up(host: &str, explicit_server: bool) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h.parse::<std::net::IpAddr>().is_ok() || !h.contains('.') && !explicit_server {
        return false;
    }
    if explicit_server {
        return !h.is_empty();
    }
    const SPECIAL: &[&str] = &[
        "test",
        "example",
        "invalid",
        "local",
        "localhost",
        "internal",
        "lan",
        "home.arpa",
    ];
    !SPECIAL
        .iter()
        .any(|s| h == *s || h.ends_with(&format!(".{s}")))
}

/// Whether a first verdict calls for a CAA look-up: only on a CA change.
pub fn needed(v: &crate::verdict::Verdict) -> bool {
    v.has(crate::verdict::Code::CaChanged)
}

/// Whether `leaf` covers `host` only through a wildcard name.
pub fn covers_by_wildcard(host: &str, leaf: &crate::model::CertInfo) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if leaf.sans.iter().any(|s| s.eq_ignore_ascii_case(&h)) {
        return false;
    }
    match h.split_once('.') {
        Some((_, parent)) => leaf
            .sans
            .iter()
            .any(|s| s.to_ascii_lowercase() == format!("*.{parent}")),
        None => false,
    }
}

/// How to look CAA records up.
#[derive(Debug, Clone)]
pub struct CaaConfig {
    /// A specific DNS server (UDP); `None` = the system's resolvers.
    pub dns_server: Option<std::net::SocketAddr>,
    /// Per-query timeout.
    pub timeout: std::time::Duration,
    /// CA → domains map.
    pub ca_domains: Vec<CaDomains>,
}

impl Default for CaaConfig {
    fn default() -> Self {
        CaaConfig {
            dns_server: None,
            timeout: std::time::Duration::from_secs(3),
            ca_domains: parse_ca_domains(CAA_DOMAINS_TOML).unwrap_or_default(),
        }
    }
}

/// Why a CAA evaluation gave no evidence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaaError {
    /// The new CA is not in the CA → domains data.
    #[error("CA {0:?} has no known CAA issuer domain")]
    UnknownCa(String),
    /// The look-up was skipped for this kind of host.
    #[error("no CAA look-up for {0}")]
    Skipped(String),
    /// DNS failed (timeout, SERVFAIL, no resolver).
    #[error("CAA look-up for {name} failed: {detail}")]
    Dns {
        /// The name queried.
        name: String,
        /// Why.
        detail: String,
    },
}

/// The CAA [`Enricher`]: on a CA change (and only then, only for that host),
/// looks up the site's CAA set and judges the new CA against it.
#[derive(Debug, Clone)]
pub struct CaaEnricher {
    cfg: CaaConfig,
}

impl CaaEnricher {
    /// An enricher looking up with `cfg`.
    pub fn new(cfg: CaaConfig) -> CaaEnricher {
        CaaEnricher { cfg }
    }
}

impl Enricher for CaaEnricher {
    fn wanted(&self, evidence: &Evidence, history: &History, first: &Verdict) -> bool {
        evidence.caa.is_none() && !history.sightings.is_empty() && needed(first)
    }

    fn enrich(
        &self,
        site: &Site,
        analysis: &Analysis,
        evidence: &mut Evidence,
        _now: i64,
    ) -> Result<(), String> {
        let wildcard = analysis
            .chain
            .first()
            .is_some_and(|l| covers_by_wildcard(&site.host, l));
        match evaluate(&site.host, &analysis.ca, wildcard, &self.cfg) {
            Ok(e) => {
                evidence.caa = Some(e);
                Ok(())
            }
            Err(CaaError::Skipped(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccadb::disclosure::OperatorSource;
    use crate::trust::TrustKind;

    fn rec(tag: &str, v: &str) -> CaaRecord {
        CaaRecord {
            flags: 0,
            tag: tag.into(),
            value: v.into(),
        }
    }

    fn ca(owner: &str, org: Option<&str>) -> CaIdentity {
        CaIdentity {
            owner: owner.into(),
            root: "Root".into(),
            root_spki: "k".into(),
            issuer_org: org.map(str::to_string),
            intermediate: "I".into(),
            intermediate_spki: None,
            trust: TrustKind::Public,
            operator: None,
            operator_source: OperatorSource::RootKey,
            ca_owner: None,
        }
    }

    #[test]
    fn data_parses_and_maps() {
        let m = parse_ca_domains(CAA_DOMAINS_TOML).unwrap();
        let le = issuer_domains(
            &m,
            &ca("Internet Security Research Group", Some("Let's Encrypt")),
        )
        .unwrap();
        assert_eq!(le, vec!["letsencrypt.org"]);
        let gts = issuer_domains(
            &m,
            &ca("Google Trust Services LLC", Some("Google Trust Services")),
        )
        .unwrap();
        assert!(gts.contains(&"pki.goog".to_string()));
        assert!(issuer_domains(&m, &ca("Corp Root", Some("ACME Corp"))).is_none());
    }

    #[test]
    fn operator_decides_not_names() {
        let m = parse_ca_domains(CAA_DOMAINS_TOML).unwrap();
        let op = |operator: &str, brand: &str| {
            let mut c = ca(brand, Some(brand));
            c.operator = Some(operator.into());
            c.operator_source = OperatorSource::CcadbIntermediate;
            issuer_domains(&m, &c)
        };
        let one = |d: &str| Some(vec![d.to_string()]);
        let cases = [
            (
                "ISRG",
                op("Internet Security Research Group", "Let's Encrypt"),
                one("letsencrypt.org"),
            ),
            (
                "a rogue CA copying Let's Encrypt's names",
                op("Rogue State CA", "Let's Encrypt"),
                None,
            ),
            (
                "DigiCert Europe is DigiCert",
                op("DigiCert Europe Netherlands B.V.", "DigiCert"),
                op("DigiCert", "DigiCert"),
            ),
            (
                "Pos Digicert is not DigiCert",
                op("Pos Digicert Sdn. Bhd (Malaysia)", "DigiCert"),
                None,
            ),
            (
                "Sectigo (Europe)",
                op("Sectigo (Europe)", "Sectigo"),
                op("Sectigo", "Sectigo"),
            ),
        ];
        for (what, got, want) in cases {
            assert_eq!(got, want, "{what}");
        }
        assert!(op("DigiCert", "x")
            .unwrap()
            .contains(&"digicert.com".to_string()));
    }

    #[test]
    fn climb_table() {
        // (zone data, host, expected relevant domain)
        let zone = |name: &str| -> Result<Vec<CaaRecord>, ()> {
            Ok(match name {
                "example.com" => vec![rec("issue", "letsencrypt.org")],
                "sub.example.net" => vec![rec("iodef", "mailto:x@example.net")],
                "broken.test" => return Err(()),
                _ => vec![],
            })
        };
        let cases: &[(&str, Option<&str>)] = &[
            ("example.com", Some("example.com")),
            ("a.b.example.com", Some("example.com")),
            ("WWW.Example.COM.", Some("example.com")),
            ("x.sub.example.net", Some("sub.example.net")),
            ("example.org", None),
        ];
        for (host, want) in cases {
            let got = relevant_set(host, zone).unwrap();
            assert_eq!(got.as_ref().map(|g| g.0.as_str()), *want, "{host}");
        }
        assert!(relevant_set("a.broken.test", zone).is_err());
    }

    #[test]
    fn judge_table() {
        let le = vec!["letsencrypt.org".to_string()];
        let cases: Vec<(Vec<CaaRecord>, bool, &str)> = vec![
            (vec![rec("issue", "letsencrypt.org")], false, "allows"),
            (
                vec![rec("issue", "LetsEncrypt.org.; validationmethods=dns-01")],
                false,
                "allows",
            ),
            (
                vec![
                    rec("issue", "digicert.com"),
                    rec("issue", "letsencrypt.org"),
                ],
                false,
                "allows",
            ),
            (vec![rec("issue", "digicert.com")], false, "forbids"),
            (vec![rec("issue", ";")], false, "forbids"),
            (vec![rec("iodef", "mailto:a@b")], false, "none"),
            (
                vec![rec("issue", "letsencrypt.org"), rec("issuewild", ";")],
                true,
                "forbids",
            ),
            (
                vec![rec("issue", "letsencrypt.org"), rec("issuewild", ";")],
                false,
                "allows",
            ),
            (vec![rec("issue", "digicert.com")], true, "forbids"),
        ];
        for (set, wild, want) in cases {
            let got = match judge_set("d", &set, &le, wild) {
                CaaEvidence::Allows { .. } => "allows",
                CaaEvidence::Forbids { .. } => "forbids",
                CaaEvidence::None => "none",
            };
            assert_eq!(got, want, "{set:?} wildcard={wild}");
        }
    }

    #[test]
    fn worth_looking_up_table() {
        let cases = [
            ("example.com", false, true),
            ("127.0.0.1", false, false),
            ("::1", true, false),
            ("localhost", false, false),
            ("a.test", false, false),
            ("a.test", true, true),
            ("printer.local", false, false),
            ("x.home.arpa", false, false),
        ];
        for (h, explicit, want) in cases {
            assert_eq!(worth_looking_up(h, explicit), want, "{h} {explicit}");
        }
    }
}
