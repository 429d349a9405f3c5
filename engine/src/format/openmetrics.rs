//! The OpenMetrics text exposition of check results (`check --format
//! prometheus`, the daemon's `metrics_textfile`).
//!
//! Gauges only, one sample per site, labelled `host`, `port` and
//! `ca_operator` (the CCADB operator, else the certificate's brand; empty
//! for a failed check); `# HELP`, `# TYPE`, `# UNIT` for the `_seconds`
//! ones, and `# EOF`. Only gauges, no timestamps and no `_total`
//! names, so the same text is also valid Prometheus text format 0.0.4
//! (node_exporter's textfile collector reads that one, taking `# UNIT` and
//! `# EOF` for comments).
//!
//! | metric | value |
//! |---|---|
//! | `certwatch_check_success` | 1 verdict reached, 0 the check failed |
//! | `certwatch_check_timestamp_seconds` | when the site was checked |
//! | `certwatch_certificate_expiry_timestamp_seconds` | the leaf's notAfter |
//! | `certwatch_verdict_severity` | 0 ok, 1 info, 2 warning, 3 critical |
//! | `certwatch_ct_compliant` | 1/0, when CT was evaluated |
//!
//! A site given twice appears once (its last result): OpenMetrics forbids
//! repeated label sets. Label values escape `\`, `"` and newline as the
//! spec says, after [`sanitize`] (control characters from a certificate).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::SiteSummary;
use crate::sanitize::sanitize;
use crate::verdict::Severity;

/// The content type to serve this text with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<&'static str>,
    value: fn(&SiteSummary) -> Option<i64>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "certwatch_check_success",
        help: "Whether the last check of the site reached a verdict (1) or failed (0).",
        unit: None,
        value: |s| Some(i64::from(s.severity.is_some())),
    },
    Family {
        name: "certwatch_check_timestamp_seconds",
        help: "When the site was last checked (Unix time).",
        unit: Some("seconds"),
        value: |s| Some(s.at),
    },
    Family {
        name: "certwatch_certificate_expiry_timestamp_seconds",
        help: "The leaf certificate's notAfter (Unix time).",
        unit: Some("seconds"),
        value: |s| s.validity.map(|(_, na)| na),
    },
    Family {
        name: "certwatch_verdict_severity",
        help: "The verdict: 0 ok, 1 info, 2 warning, 3 critical.",
        unit: None,
        value: |s| s.severity.map(severity_value),
    },
    Family {
        name: "certwatch_ct_compliant",
        help: "Whether the chain meets the CT policy (1) or not (0).",
        unit: None,
        value: |s| s.ct_compliant.map(i64::from),
    },
];

/// The value of `certwatch_verdict_severity`.
pub fn severity_value(s: Severity) -> i64 {
    match s {
        Severity::Ok => 0,
        Severity::Info => 1,
        Severity::Warning => 2,
        Severity::Critical => 3,
    }
}

/// The exposition for `sites`, sorted by host and port, ending in `# EOF`.
pub fn render(sites: &[SiteSummary]) -> String {
    let unique: BTreeMap<(&str, u16), &SiteSummary> = sites
        .iter()
        .map(|s| ((s.site.host.as_str(), s.site.port), s))
        .collect();
    let mut out = String::new();
    for f in FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        if let Some(u) = f.unit {
            let _ = writeln!(out, "# UNIT {} {u}", f.name);
        }
        for s in unique.values() {
            if let Some(v) = (f.value)(s) {
                let _ = writeln!(
                    out,
                    "{}{{host=\"{}\",port=\"{}\",ca_operator=\"{}\"}} {v}",
                    f.name,
                    escape(&s.site.host),
                    s.site.port,
                    escape(s.ca_operator.as_deref().unwrap_or(""))
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A label value: `\` → `\\`, `"` → `\"`, newline → `\n` (after [`sanitize`]).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn one_site() {
        let out = render(&[sample("example.org", Some(Severity::Warning))]);
        let l = r#"{host="example.org",port="443",ca_operator="Internet Security Research Group"}"#;
        let want = format!(
            "# HELP certwatch_check_success Whether the last check of the site reached a verdict (1) or failed (0).
# TYPE certwatch_check_success gauge
certwatch_check_success{l} 1
# HELP certwatch_check_timestamp_seconds When the site was last checked (Unix time).
# TYPE certwatch_check_timestamp_seconds gauge
# UNIT certwatch_check_timestamp_seconds seconds
certwatch_check_timestamp_seconds{l} 1800000000
# HELP certwatch_certificate_expiry_timestamp_seconds The leaf certificate's notAfter (Unix time).
# TYPE certwatch_certificate_expiry_timestamp_seconds gauge
# UNIT certwatch_certificate_expiry_timestamp_seconds seconds
certwatch_certificate_expiry_timestamp_seconds{l} 1805097600
# HELP certwatch_verdict_severity The verdict: 0 ok, 1 info, 2 warning, 3 critical.
# TYPE certwatch_verdict_severity gauge
certwatch_verdict_severity{l} 2
# HELP certwatch_ct_compliant Whether the chain meets the CT policy (1) or not (0).
# TYPE certwatch_ct_compliant gauge
certwatch_ct_compliant{l} 1
# EOF
"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn failed_sites_and_duplicates() {
        let mut f = sample("b.test", None);
        f.validity = None;
        f.ct_compliant = None;
        f.ca_operator = None;
        let a1 = sample("a.test", Some(Severity::Critical));
        let a2 = sample("a.test", Some(Severity::Ok));
        let out = render(&[f, a1, a2]);
        assert!(out.contains(
            "certwatch_check_success{host=\"b.test\",port=\"443\",ca_operator=\"\"} 0\n"
        ));
        assert_eq!(
            out.matches("certwatch_verdict_severity{").count(),
            1,
            "{out}"
        );
        assert!(out.contains("certwatch_verdict_severity{host=\"a.test\",port=\"443\",ca_operator=\"Internet Security Research Group\"} 0\n"));
        // a.test sorts first.
        assert!(out.find("host=\"a.test\"") < out.find("host=\"b.test\""));
        assert!(out.ends_with("# EOF\n"));
        assert_eq!(render(&[]).lines().last(), Some("# EOF"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = sample("a.test", Some(Severity::Ok));
        s.ca_operator = Some("Evil \"CA\"\\\n} 1\ncertwatch_ct_compliant{x=\"".into());
        let out = render(&[s]);
        assert!(
            out.contains(
                r#"ca_operator="Evil \"CA\"\\\\u{a}} 1\\u{a}certwatch_ct_compliant{x=\""} 1"#
            ),
            "{out}"
        );
        // Every line is a comment or one sample of a known family.
        for line in out.lines() {
            assert!(
                line.starts_with("# ")
                    || FAMILIES
                        .iter()
                        .any(|f| line.starts_with(&format!("{}{{", f.name))),
                "{line}"
            );
        }
        assert_eq!(escape("a\nb\\\""), "a\\\\u{a}b\\\\\\\"");
    }
}
