//! Chrome's CT policy, as a pure function of verified SCTs.

use std::collections::BTreeSet;

use super::sct::{SctSource, SctStatus};

/// One SCT as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySct {
    /// Log id.
    pub log_id: [u8; 32],
    /// Operator name (from the log list).
    pub operator: String,
    /// From an RFC 6962 log (not a static-ct-api log).
    pub rfc6962: bool,
    /// The log is qualified, usable or read-only at evaluation time.
    pub log_trusted_now: bool,
    /// How it arrived.
    pub source: SctSource,
    /// Its verification status.
    pub status: SctStatus,
}

const DAY: i64 = 86_400;

/// Whether the SCTs satisfy Chrome's CT policy for a certificate of
/// `lifetime_secs`, and why (one line).
///
/// Embedded SCTs: valid SCTs from ≥2 distinct logs (≥3 when the lifetime
/// exceeds 180 days), ≥2 operators, ≥1 RFC 6962 log, ≥1 log trusted now.
/// TLS/OCSP-delivered: ≥2 valid SCTs from distinct logs of ≥2 operators,
/// ≥1 RFC 6962 log, ≥1 log trusted now.
pub fn evaluate(scts: &[PolicySct], lifetime_secs: i64) -> (bool, String) {
    if scts.is_empty() {
        return (
            false,
            "no SCTs (embedded, TLS or OCSP): no public CT log vouches for this certificate"
                .to_string(),
        );
    }
    let embedded: Vec<&PolicySct> = scts
        .iter()
        .filter(|s| s.source == SctSource::Embedded && s.status == SctStatus::Valid)
        .collect();
    let need = if lifetime_secs <= 180 * DAY { 2 } else { 3 };
    let emb = check(&embedded, need, "embedded");
    if emb.is_ok() || !scts.iter().any(|s| s.source != SctSource::Embedded) {
        return verdict(emb, scts);
    }
    let all: Vec<&PolicySct> = scts
        .iter()
        .filter(|s| s.status == SctStatus::Valid)
        .collect();
    match check(&all, 2, "TLS/OCSP-delivered") {
        Ok(m) => (true, m),
        Err(m) if scts.iter().all(|s| s.source != SctSource::Embedded) => verdict(Err(m), scts),
        Err(_) => verdict(emb, scts),
    }
}

fn verdict(r: Result<String, String>, scts: &[PolicySct]) -> (bool, String) {
    match r {
        Ok(m) => (true, m),
        Err(m) => {
            let bad = scts.iter().filter(|s| s.status != SctStatus::Valid).count();
            let extra = if bad > 0 {
                format!(" ({bad} of {} SCTs not valid)", scts.len())
            } else {
                String::new()
            };
            (false, format!("{m}{extra}"))
        }
    }
}

fn check(valid: &[&PolicySct], need: usize, kind: &str) -> Result<String, String> {
    let logs: BTreeSet<[u8; 32]> = valid.iter().map(|s| s.log_id).collect();
    let ops: BTreeSet<&str> = valid.iter().map(|s| s.operator.as_str()).collect();
    let ops_list = ops.iter().copied().collect::<Vec<_>>().join(", ");
    if logs.len() < need {
        return Err(format!(
            "CT policy not met: {} valid {kind} SCTs from distinct logs, {need} required",
            logs.len()
        ));
    }
    if ops.len() < 2 {
        return Err(format!(
            "CT policy not met: all valid SCTs are from one operator ({ops_list}), 2 required"
        ));
    }
    if !valid.iter().any(|s| s.rfc6962) {
        return Err("CT policy not met: no valid SCT from an RFC 6962 log".to_string());
    }
    if !valid.iter().any(|s| s.log_trusted_now) {
        return Err(
            "CT policy not met: no valid SCT from a log that is qualified, usable or read-only now"
                .to_string(),
        );
    }
    Ok(format!(
        "CT policy met: valid {kind} SCTs from {} logs of {} operators ({ops_list})",
        logs.len(),
        ops.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u8, op: &str, src: SctSource, st: SctStatus) -> PolicySct {
        PolicySct {
            log_id: [id; 32],
            operator: op.into(),
            rfc6962: true,
            log_trusted_now: true,
            source: src,
            status: st,
        }
    }
    use SctSource::*;
    use SctStatus::*;

    #[test]
    fn table() {
        let short = 90 * DAY;
        let long = 365 * DAY;
        let cases: Vec<(&str, Vec<PolicySct>, i64, bool, &str)> = vec![
            ("none", vec![], short, false, "no SCTs"),
            (
                "two ops short",
                vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, Valid)],
                short,
                true,
                "2 logs of 2 operators",
            ),
            (
                "two ops long",
                vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, Valid)],
                long,
                false,
                "3 required",
            ),
            (
                "three long",
                vec![
                    s(1, "A", Embedded, Valid),
                    s(2, "B", Embedded, Valid),
                    s(3, "B", Embedded, Valid),
                ],
                long,
                true,
                "3 logs",
            ),
            (
                "one operator",
                vec![s(1, "A", Embedded, Valid), s(2, "A", Embedded, Valid)],
                short,
                false,
                "one operator (A)",
            ),
            (
                "same log twice",
                vec![s(1, "A", Embedded, Valid), s(1, "A", Embedded, Valid)],
                short,
                false,
                "1 valid",
            ),
            (
                "invalid does not count",
                vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, Invalid)],
                short,
                false,
                "(1 of 2 SCTs not valid)",
            ),
            (
                "unknown log",
                vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, UnknownLog)],
                short,
                false,
                "1 valid",
            ),
            (
                "tls pair",
                vec![s(1, "A", Tls, Valid), s(2, "B", Ocsp, Valid)],
                long,
                true,
                "TLS/OCSP",
            ),
            (
                "tls one op",
                vec![s(1, "A", Tls, Valid), s(2, "A", Ocsp, Valid)],
                long,
                false,
                "one operator",
            ),
        ];
        for (name, scts, life, ok, msg) in cases {
            let (got, why) = evaluate(&scts, life);
            assert_eq!(got, ok, "{name}: {why}");
            assert!(why.contains(msg), "{name}: {why}");
        }
        let mut no6962 = vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, Valid)];
        for x in &mut no6962 {
            x.rfc6962 = false;
        }
        assert!(evaluate(&no6962, short).1.contains("RFC 6962"));
        let mut stale = vec![s(1, "A", Embedded, Valid), s(2, "B", Embedded, Valid)];
        for x in &mut stale {
            x.log_trusted_now = false;
        }
        assert!(evaluate(&stale, short).1.contains("read-only now"));
    }
}
