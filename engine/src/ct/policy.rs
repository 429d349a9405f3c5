//! Chrome's CT policy (`GoogleChrome/CertificateTransparency`,
//! `ct_policy.md`, 2026), as a pure function of verified SCTs and the
//! evaluation time.
//!
//! "A TLS certificate is CT Compliant if it is accompanied by a set of SCTs
//! that satisfies at least one of the criteria defined below, depending on
//! how the SCTs are delivered to Chrome":
//!
//! * **Embedded SCTs:** (1) at least one embedded SCT from a CT log that was
//!   Qualified, Usable, or ReadOnly at time of check; and (2) embedded SCTs
//!   from at least N distinct CT logs that were Qualified, Usable, ReadOnly,
//!   or Retired at time of check — N = 2 for a certificate lifetime of 180
//!   days or less, 3 above; and (3) among the SCTs satisfying (2), at least
//!   two from distinct CT log operators.
//! * **SCTs delivered via TLS:** (1) at least two SCTs from CT logs that
//!   were Qualified, Usable, or ReadOnly at time of check; and (2) among
//!   those, at least two from distinct CT log operators.
//!
//! Details this module keeps:
//! * the requirement of one SCT from an RFC 6962 log applied only to checks
//!   before 2026-04-15 ([`NO_RFC6962_REQUIREMENT_FROM`]); from then on
//!   static-ct-api ("tiled") logs count like any other;
//! * SCTs delivered in a stapled OCSP response are reported but never
//!   counted (Chrome 148 removed them);
//! * "log operator uniqueness is defined as having a separate entry in the
//!   operators section of the log list"; for a log that changed hands the
//!   operator is the one at the SCT's timestamp (`previous_operators`; the
//!   caller resolves it with [`crate::ct::loglist::Log::operator_at`]);
//! * a Retired log's SCT counts only when it was issued before the
//!   retirement (an SCT from a log retired before it was issued is
//!   already `log_not_usable_at_time`, and the rule is checked again here).
//!
//! The caller gives each SCT's verification status; only `valid` SCTs are
//! counted.

use std::collections::BTreeSet;

use super::loglist::LogState;
use super::sct::{SctSource, SctStatus};

/// One SCT as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySct {
    /// Log id.
    pub log_id: [u8; 32],
    /// The log's operator at the SCT's timestamp.
    pub operator: String,
    /// From an RFC 6962 log (not a static-ct-api log).
    pub rfc6962: bool,
    /// The log's state, as the list gives it.
    pub state: LogState,
    /// When the log entered that state (Unix seconds), when given.
    pub state_since: Option<i64>,
    /// The SCT's timestamp, Unix seconds.
    pub timestamp: i64,
    /// How it arrived.
    pub source: SctSource,
    /// Its verification status.
    pub status: SctStatus,
}

const DAY: i64 = 86_400;

/// Checks from this time on (2026-04-15T00:00:00Z, Unix seconds) no longer
/// need an SCT from an RFC 6962 log.
pub const NO_RFC6962_REQUIREMENT_FROM: i64 = 1_776_211_200;

/// Whether the log was Qualified, Usable or ReadOnly at `now`. A Retired or
/// Rejected log was one of those before its state's timestamp. A log from a
/// list without states (a local or test list) is taken as such.
pub fn admissible_at(state: LogState, since: Option<i64>, now: i64) -> bool {
    match state {
        LogState::Qualified | LogState::Usable | LogState::ReadOnly | LogState::Unknown => true,
        LogState::Retired | LogState::Rejected => since.is_some_and(|s| now < s),
        LogState::Pending | LogState::NotInPolicy => false,
    }
}

/// Whether an SCT counts towards the number of distinct logs for embedded
/// delivery: its log is admissible at `now`, or Retired and the SCT was
/// issued before the retirement.
pub fn counts_for_embedded(s: &PolicySct, now: i64) -> bool {
    admissible_at(s.state, s.state_since, now)
        || (s.state == LogState::Retired && s.state_since.is_some_and(|r| s.timestamp < r))
}

/// SCTs needed from distinct logs for a certificate valid `lifetime_secs`.
pub fn embedded_required(lifetime_secs: i64) -> usize {
    if lifetime_secs <= 180 * DAY {
        2
    } else {
        3
    }
}

/// Whether the SCTs satisfy Chrome's CT policy for a certificate of
/// `lifetime_secs`, evaluated at `now` (Unix seconds), and why (one line).
pub fn evaluate(scts: &[PolicySct], lifetime_secs: i64, now: i64) -> (bool, String) {
    if scts.is_empty() {
        return (
            false,
            "no SCTs (embedded, TLS or OCSP): no public CT log vouches for this certificate"
                .to_string(),
        );
    }
    let need_rfc6962 = now < NO_RFC6962_REQUIREMENT_FROM;
    let valid = |src: SctSource| {
        scts.iter()
            .filter(move |s| s.source == src && s.status == SctStatus::Valid)
    };
    let has = |src: SctSource| scts.iter().any(|s| s.source == src);

    let embedded: Vec<&PolicySct> = valid(SctSource::Embedded)
        .filter(|s| counts_for_embedded(s, now))
        .collect();
    let emb = check(
        &embedded,
        embedded_required(lifetime_secs),
        "embedded",
        need_rfc6962,
        now,
    );
    let tls: Vec<&PolicySct> = valid(SctSource::Tls)
        .filter(|s| admissible_at(s.state, s.state_since, now))
        .collect();
    let tls_r = check(&tls, 2, "TLS-delivered", need_rfc6962, now);

    let result = match (emb, tls_r) {
        (Ok(m), _) | (_, Ok(m)) => Ok(m),
        // Report the delivery the certificate actually uses.
        (Err(e), Err(t)) => Err(if has(SctSource::Embedded) || !has(SctSource::Tls) {
            e
        } else {
            t
        }),
    };
    let mut notes = Vec::new();
    let bad = scts.iter().filter(|s| s.status != SctStatus::Valid).count();
    let ocsp = scts.iter().filter(|s| s.source == SctSource::Ocsp).count();
    if ocsp > 0 {
        let plural = if ocsp == 1 { "" } else { "s" };
        notes.push(format!(
            "{ocsp} SCT{plural} from the stapled OCSP response not counted (Chrome 148 and later ignore them)"
        ));
    }
    match result {
        Ok(m) if notes.is_empty() => (true, m),
        Ok(m) => (true, format!("{m}; {}", notes.join("; "))),
        Err(m) => {
            if bad > 0 {
                notes.insert(0, format!("{bad} of {} SCTs not valid", scts.len()));
            }
            if notes.is_empty() {
                (false, m)
            } else {
                (false, format!("{m} ({})", notes.join("; ")))
            }
        }
    }
}

fn check(
    counted: &[&PolicySct],
    need: usize,
    kind: &str,
    need_rfc6962: bool,
    now: i64,
) -> Result<String, String> {
    let logs: BTreeSet<[u8; 32]> = counted.iter().map(|s| s.log_id).collect();
    let ops: BTreeSet<&str> = counted.iter().map(|s| s.operator.as_str()).collect();
    let ops_list = ops.iter().copied().collect::<Vec<_>>().join(", ");
    if logs.len() < need {
        return Err(format!(
            "CT policy not met: {} valid {kind} SCTs from distinct logs that count now, {need} required",
            logs.len()
        ));
    }
    if ops.len() < 2 {
        return Err(format!(
            "CT policy not met: all valid {kind} SCTs are from one operator ({ops_list}), 2 required"
        ));
    }
    if !counted
        .iter()
        .any(|s| admissible_at(s.state, s.state_since, now))
    {
        return Err(format!(
            "CT policy not met: no valid {kind} SCT from a log that is qualified, usable or read-only now"
        ));
    }
    if need_rfc6962 && !counted.iter().any(|s| s.rfc6962) {
        return Err(format!(
            "CT policy not met: no valid {kind} SCT from an RFC 6962 log (required for checks before 2026-04-15)"
        ));
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
    use LogState::*;
    use SctSource::*;
    use SctStatus::*;

    /// 2026-06-01, after the RFC 6962 requirement ended.
    const NOW: i64 = 1_780_272_000;
    /// 2026-03-01, before it ended.
    const MARCH: i64 = 1_772_323_200;
    const SHORT: i64 = 90 * DAY;
    const LONG: i64 = 365 * DAY;

    /// A valid embedded SCT from usable RFC 6962 log `id` of operator `op`.
    fn s(id: u8, op: &str) -> PolicySct {
        PolicySct {
            log_id: [id; 32],
            operator: op.into(),
            rfc6962: true,
            state: Usable,
            state_since: Some(NOW - 400 * DAY),
            timestamp: NOW - 10 * DAY,
            source: Embedded,
            status: Valid,
        }
    }

    fn tiled(mut x: PolicySct) -> PolicySct {
        x.rfc6962 = false;
        x
    }

    fn via(mut x: PolicySct, src: SctSource) -> PolicySct {
        x.source = src;
        x
    }

    fn st(mut x: PolicySct, state: LogState, since: i64) -> PolicySct {
        x.state = state;
        x.state_since = Some(since);
        x
    }

    fn status(mut x: PolicySct, status: SctStatus) -> PolicySct {
        x.status = status;
        x
    }

    fn at(mut x: PolicySct, t: i64) -> PolicySct {
        x.timestamp = t;
        x
    }

    type Case = (&'static str, Vec<PolicySct>, i64, i64, bool, &'static str);

    #[test]
    fn embedded_counts_and_operators() {
        let cases: Vec<Case> = vec![
            ("none", vec![], SHORT, NOW, false, "no SCTs"),
            // "N = 2 for a certificate lifetime of 180 days or less"
            (
                "two logs, two operators, short",
                vec![s(1, "A"), s(2, "B")],
                SHORT,
                NOW,
                true,
                "2 logs of 2 operators",
            ),
            (
                "exactly 180 days needs 2",
                vec![s(1, "A"), s(2, "B")],
                180 * DAY,
                NOW,
                true,
                "2 logs",
            ),
            // "3 for more than 180 days"
            (
                "181 days needs 3",
                vec![s(1, "A"), s(2, "B")],
                181 * DAY,
                NOW,
                false,
                "3 required",
            ),
            (
                "three logs long",
                vec![s(1, "A"), s(2, "B"), s(3, "B")],
                LONG,
                NOW,
                true,
                "3 logs of 2 operators",
            ),
            // "at least two from distinct CT log operators"
            (
                "one operator",
                vec![s(1, "A"), s(2, "A")],
                SHORT,
                NOW,
                false,
                "one operator (A)",
            ),
            (
                "same log twice is one log",
                vec![s(1, "A"), s(1, "A")],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
            (
                "an invalid SCT does not count",
                vec![s(1, "A"), status(s(2, "B"), Invalid)],
                SHORT,
                NOW,
                false,
                "(1 of 2 SCTs not valid)",
            ),
            (
                "an unknown log does not count",
                vec![s(1, "A"), status(s(2, "B"), UnknownLog)],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
            (
                "extra SCTs never hurt",
                vec![s(1, "A"), s(2, "B"), status(s(3, "C"), Invalid)],
                SHORT,
                NOW,
                true,
                "2 logs",
            ),
        ];
        run(cases);
    }

    #[test]
    fn rfc6962_requirement_ends_2026_04_15() {
        let cases: Vec<Case> = vec![
            // Task (c): tiled-only SCTs from 2 operators are compliant now.
            (
                "tiled only, two operators, after",
                vec![tiled(s(1, "Let's Encrypt")), tiled(s(2, "Geomys"))],
                SHORT,
                NOW,
                true,
                "2 logs of 2 operators (Geomys, Let's Encrypt)",
            ),
            (
                "tiled only, on the day",
                vec![tiled(s(1, "A")), tiled(s(2, "B"))],
                SHORT,
                NO_RFC6962_REQUIREMENT_FROM,
                true,
                "CT policy met",
            ),
            (
                "tiled only, the second before",
                vec![at(tiled(s(1, "A")), MARCH), at(tiled(s(2, "B")), MARCH)],
                SHORT,
                NO_RFC6962_REQUIREMENT_FROM - 1,
                false,
                "RFC 6962 log (required for checks before 2026-04-15)",
            ),
            (
                "one RFC 6962 log was enough before",
                vec![at(s(1, "A"), MARCH), at(tiled(s(2, "B")), MARCH)],
                SHORT,
                MARCH,
                true,
                "CT policy met",
            ),
            (
                "tiled only, long lifetime, three logs",
                vec![tiled(s(1, "A")), tiled(s(2, "B")), tiled(s(3, "C"))],
                LONG,
                NOW,
                true,
                "3 logs of 3 operators",
            ),
        ];
        run(cases);
    }

    #[test]
    fn ocsp_scts_are_reported_not_counted() {
        let cases: Vec<Case> = vec![
            (
                "OCSP only",
                vec![via(s(1, "A"), Ocsp), via(s(2, "B"), Ocsp)],
                SHORT,
                NOW,
                false,
                "2 SCTs from the stapled OCSP response not counted",
            ),
            (
                "OCSP does not complete embedded",
                vec![s(1, "A"), via(s(2, "B"), Ocsp)],
                SHORT,
                NOW,
                false,
                "1 valid embedded",
            ),
            (
                "embedded enough, OCSP noted",
                vec![s(1, "A"), s(2, "B"), via(s(3, "C"), Ocsp)],
                SHORT,
                NOW,
                true,
                "1 SCT from the stapled OCSP response not counted",
            ),
            // TLS: "at least two SCTs ... at least two from distinct operators"
            (
                "TLS pair, long lifetime",
                vec![via(s(1, "A"), Tls), via(s(2, "B"), Tls)],
                LONG,
                NOW,
                true,
                "TLS-delivered SCTs from 2 logs",
            ),
            (
                "TLS one operator",
                vec![via(s(1, "A"), Tls), via(s(2, "A"), Tls)],
                LONG,
                NOW,
                false,
                "TLS-delivered SCTs are from one operator",
            ),
            (
                "TLS from a retired log does not count",
                vec![
                    via(s(1, "A"), Tls),
                    via(st(s(2, "B"), Retired, NOW - 5 * DAY), Tls),
                ],
                SHORT,
                NOW,
                false,
                "1 valid TLS-delivered",
            ),
        ];
        run(cases);
    }

    #[test]
    fn log_states_at_the_time_of_check() {
        let cases: Vec<Case> = vec![
            // "Retired at time of check" counts for N, if issued before retirement.
            (
                "retired after the SCT counts",
                vec![s(1, "A"), st(s(2, "B"), Retired, NOW - 5 * DAY)],
                SHORT,
                NOW,
                true,
                "2 logs",
            ),
            (
                "retired before the SCT does not",
                vec![
                    s(1, "A"),
                    at(st(s(2, "B"), Retired, NOW - 20 * DAY), NOW - 10 * DAY),
                ],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
            // (1) "at least one ... Qualified, Usable, or ReadOnly at time of check"
            (
                "all retired",
                vec![
                    st(s(1, "A"), Retired, NOW - 5 * DAY),
                    st(s(2, "B"), Retired, NOW - 5 * DAY),
                ],
                SHORT,
                NOW,
                false,
                "qualified, usable or read-only now",
            ),
            (
                "retired later than the check: still usable then",
                vec![
                    st(s(1, "A"), Retired, NOW + DAY),
                    st(s(2, "B"), Retired, NOW + DAY),
                ],
                SHORT,
                NOW,
                true,
                "2 logs",
            ),
            (
                "qualified and read-only count",
                vec![
                    st(s(1, "A"), Qualified, NOW - DAY),
                    st(s(2, "B"), ReadOnly, NOW - DAY),
                ],
                SHORT,
                NOW,
                true,
                "2 logs",
            ),
            (
                "rejected does not count",
                vec![s(1, "A"), st(s(2, "B"), Rejected, NOW - DAY)],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
            (
                "pending does not count",
                vec![s(1, "A"), st(s(2, "B"), Pending, NOW - DAY)],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
            (
                "test and monitoring-only logs do not count",
                vec![s(1, "A"), st(s(2, "B"), NotInPolicy, NOW - DAY)],
                SHORT,
                NOW,
                false,
                "1 valid",
            ),
        ];
        run(cases);
    }

    #[test]
    fn operator_is_the_one_at_the_sct_timestamp() {
        // The caller resolves operators with Log::operator_at; two logs that
        // were one operator's at their SCTs' time are one operator.
        let list = br#"{"version":"1","log_list_timestamp":"2026-06-01T00:00:00Z","operators":[
          {"name":"New","logs":[{"description":"L","log_id":"3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=",
           "key":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmXg8sUUzwBYaWrRb+V0IopzQ6o3UyEJ04r5ZrRXGdpYM8K+hB0pXrGRLI0eeWz+3skXrS0IO83AhA3GpRL6s6w==",
           "url":"https://l/","state":{"usable":{"timestamp":"2020-01-01T00:00:00Z"}},
           "previous_operators":[{"name":"Middle","end_time":"2025-01-01T00:00:00Z"},{"name":"Old","end_time":"2024-01-01T00:00:00Z"}]}]}]}"#;
        let l = crate::ct::LogList::parse("t", list).unwrap();
        let log = &l.logs()[0];
        let t = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp()
        };
        assert_eq!(log.operator_at(t("2023-06-01T00:00:00Z")), "Old");
        assert_eq!(log.operator_at(t("2024-01-01T00:00:00Z")), "Middle");
        assert_eq!(log.operator_at(t("2024-12-31T23:59:59Z")), "Middle");
        assert_eq!(log.operator_at(t("2025-01-01T00:00:00Z")), "New");
        let old = t("2024-06-01T00:00:00Z");
        let cases: Vec<Case> = vec![
            (
                "the log of Middle then and another of Middle",
                vec![at(s(1, log.operator_at(old)), old), at(s(2, "Middle"), old)],
                SHORT,
                NOW,
                false,
                "one operator (Middle)",
            ),
            (
                "the log of Middle then and one of New",
                vec![at(s(1, log.operator_at(old)), old), s(2, "New")],
                SHORT,
                NOW,
                true,
                "2 operators (Middle, New)",
            ),
        ];
        run(cases);
    }

    fn run(cases: Vec<Case>) {
        for (name, scts, life, now, ok, msg) in cases {
            let (got, why) = evaluate(&scts, life, now);
            assert_eq!(got, ok, "{name}: {why}");
            assert!(why.contains(msg), "{name}: {why:?} lacks {msg:?}");
        }
    }

    #[test]
    fn cutover_constant_is_2026_04_15() {
        assert_eq!(
            crate::report::rfc3339(NO_RFC6962_REQUIREMENT_FROM),
            "2026-04-15T00:00:00Z"
        );
        assert_eq!(&crate::report::rfc3339(NOW)[..10], "2026-06-01");
        assert_eq!(&crate::report::rfc3339(MARCH)[..10], "2026-03-01");
    }
}
