//! The expiry rule (`expires_soon`): pure, reads `now` from the input and the
//! thresholds from [`Evidence::expiry`](super::Evidence) (absent = the rule does
//! not apply, as for browser visits).
//!
//! Default thresholds scale with the certificate's own lifetime
//! (`notAfter - notBefore`):
//!
//! - warning when less than **20 %** of the lifetime remains, at most 14 days;
//! - critical when less than **10 %** remains, at most 7 days.
//!
//! Usual schedules stay quiet: a 6-day certificate renewed halfway has 50 %
//! left (warning would start at 29 hours), a 45/47-day or 90-day ACME
//! certificate renewed at two thirds of its life (Let's Encrypt's default,
//! ACME ARI's window) has 33 % left (warning at 9 days and 14 days), and a
//! 398-day commercial certificate renewed 30 days before expiry is past the
//! 14-day cap. `--warn-days` / `--crit-days` (config `warn_days` /
//! `crit_days`) replace a threshold by a fixed number of days. Expired
//! certificates are `expired` (critical), not this rule.

use super::vocab::{Code, Reason, Severity};

const DAY: i64 = 86_400;

/// Warning below this share of the lifetime (percent)…
pub const WARN_PERCENT: i64 = 20;
/// … but never earlier than this many days before expiry.
pub const WARN_CAP_DAYS: i64 = 14;
/// Critical below this share of the lifetime (percent)…
pub const CRIT_PERCENT: i64 = 10;
/// … but never earlier than this many days before expiry.
pub const CRIT_CAP_DAYS: i64 = 7;

/// Expiry thresholds; `None` = the lifetime-relative default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Warn when fewer than this many days remain.
    pub warn_days: Option<u32>,
    /// Critical when fewer than this many days remain.
    pub crit_days: Option<u32>,
}

impl ExpiryPolicy {
    /// The warning and critical thresholds, in seconds before `notAfter`, for
    /// a certificate valid from `not_before` to `not_after`.
    pub fn thresholds(&self, not_before: i64, not_after: i64) -> (i64, i64) {
        let lifetime = not_after.saturating_sub(not_before).max(0);
        let rel = |percent: i64, cap: i64| (lifetime / 100 * percent).min(cap * DAY);
        let warn = self
            .warn_days
            .map(|d| i64::from(d) * DAY)
            .unwrap_or_else(|| rel(WARN_PERCENT, WARN_CAP_DAYS));
        let crit = self
            .crit_days
            .map(|d| i64::from(d) * DAY)
            .unwrap_or_else(|| rel(CRIT_PERCENT, CRIT_CAP_DAYS));
        (warn, crit)
    }

    /// The finding for a leaf valid `not_before..not_after` seen at `now`:
    /// `None` when far enough from expiry (or already expired: that is `expired`).
    pub fn assess(&self, not_before: i64, not_after: i64, now: i64) -> Option<Reason> {
        let left = not_after - now;
        if left <= 0 {
            return None;
        }
        let (warn, crit) = self.thresholds(not_before, not_after);
        let severity = if left < crit {
            Severity::Critical
        } else if left < warn {
            Severity::Warning
        } else {
            return None;
        };
        let lifetime = (not_after - not_before).max(1);
        let when = if left >= DAY {
            format!("in {} days", left / DAY)
        } else {
            format!("in {} hours", (left / 3600).max(1))
        };
        Some(Reason {
            code: Code::ExpiresSoon,
            severity,
            message: format!(
                "the certificate expires {when} ({}% of its {}-day lifetime left): renew it",
                left * 100 / lifetime,
                (lifetime + DAY / 2) / DAY
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    /// (lifetime days, renewal after days): the usual schedules.
    const SCHEDULES: &[(&str, f64, f64)] = &[
        ("short-lived 6-day, renewed halfway", 6.0, 3.0),
        ("short-lived 6-day, renewed at 2/3", 6.0, 4.0),
        ("45-day, renewed at 2/3", 45.0, 30.0),
        ("47-day, renewed at 2/3 (ARI)", 47.0, 31.3),
        ("90-day Let's Encrypt, renewed at 60 days", 90.0, 60.0),
        ("90-day, certbot 30 days before", 90.0, 60.0),
        ("398-day commercial, renewed 30 days before", 398.0, 368.0),
        ("397-day, renewed 30 days before", 397.0, 367.0),
    ];

    #[test]
    fn usual_schedules_never_warn() {
        let p = ExpiryPolicy::default();
        for (name, life, renew) in SCHEDULES {
            let nb = T0;
            let na = T0 + (life * DAY as f64) as i64;
            // Every hour until the renewal, plus one day of slack (a failed
            // attempt retried the next day) for all but the 6-day certificate.
            let slack = if *life > 10.0 { DAY } else { 0 };
            let end = T0 + (renew * DAY as f64) as i64 + slack;
            let mut now = nb;
            while now <= end {
                assert_eq!(p.assess(nb, na, now), None, "{name}: warned at {now}");
                now += 3600;
            }
        }
    }

    #[test]
    fn threshold_table() {
        let d = |n: i64| n * DAY;
        // (lifetime days, policy, days left, expected severity)
        let rows: &[(i64, ExpiryPolicy, i64, Option<Severity>)] = &[
            (90, ExpiryPolicy::default(), 30, None),
            (90, ExpiryPolicy::default(), 15, None),
            (90, ExpiryPolicy::default(), 13, Some(Severity::Warning)),
            (90, ExpiryPolicy::default(), 8, Some(Severity::Warning)),
            (90, ExpiryPolicy::default(), 6, Some(Severity::Critical)),
            (398, ExpiryPolicy::default(), 20, None),
            (398, ExpiryPolicy::default(), 10, Some(Severity::Warning)),
            (398, ExpiryPolicy::default(), 1, Some(Severity::Critical)),
            (6, ExpiryPolicy::default(), 2, None),
            (6, ExpiryPolicy::default(), 1, Some(Severity::Warning)),
            (47, ExpiryPolicy::default(), 4, Some(Severity::Critical)),
            (47, ExpiryPolicy::default(), 10, None),
            (47, ExpiryPolicy::default(), 9, Some(Severity::Warning)),
            // Expired: the `expired` rule's business.
            (90, ExpiryPolicy::default(), 0, None),
            (90, ExpiryPolicy::default(), -3, None),
            // Overrides: fixed days.
            (
                90,
                ExpiryPolicy {
                    warn_days: Some(30),
                    crit_days: Some(10),
                },
                25,
                Some(Severity::Warning),
            ),
            (
                90,
                ExpiryPolicy {
                    warn_days: Some(30),
                    crit_days: Some(10),
                },
                9,
                Some(Severity::Critical),
            ),
            (
                398,
                ExpiryPolicy {
                    warn_days: Some(0),
                    crit_days: Some(0),
                },
                1,
                None,
            ),
            (
                398,
                ExpiryPolicy {
                    warn_days: Some(40),
                    crit_days: None,
                },
                30,
                Some(Severity::Warning),
            ),
        ];
        for (life, policy, left, want) in rows {
            let na = T0 + d(*life);
            let now = na - d(*left);
            let got = policy.assess(T0, na, now).map(|r| r.severity);
            assert_eq!(got, *want, "lifetime {life}, {left} days left, {policy:?}");
            if let Some(r) = policy.assess(T0, na, now) {
                assert_eq!(r.code, Code::ExpiresSoon);
                assert!(r.message.contains("expires in"), "{}", r.message);
            }
        }
    }

    #[test]
    fn hours_for_the_last_day() {
        let p = ExpiryPolicy::default();
        let r = p.assess(T0, T0 + 6 * DAY, T0 + 6 * DAY - 5 * 3600).unwrap();
        assert!(r.message.contains("in 5 hours"), "{}", r.message);
        assert_eq!(r.severity, Severity::Critical);
    }
}
