//! Schedule maths for watched sites: pure functions of their inputs (the
//! daemon's scheduler and the watch table use them).

use crate::probe::Site;

/// After a successful check: `every` later, ±10% jitter (deterministic per
/// site and time, so sites added together spread out).
pub fn next_due_after_success(site: &Site, every_secs: i64, now: i64) -> i64 {
    let every = every_secs.max(60);
    let span = every / 10;
    if span == 0 {
        return now + every;
    }
    let seed = crate::model::sha256_hex(format!("{site}@{now}").as_bytes());
    let r = i64::from_str_radix(&seed[..8], 16).unwrap_or(0);
    now + every - span + r % (2 * span + 1)
}

/// After `failures` consecutive failures: 1 min, 2, 4, … capped at `every`.
pub fn next_due_after_failure(every_secs: i64, failures: i64, now: i64) -> i64 {
    let exp = failures.clamp(1, 20) - 1;
    let backoff = 60i64.saturating_mul(1i64 << exp);
    now + backoff.min(every_secs.max(60))
}

/// Parses `90s`, `30m`, `6h`, `1d` (or plain seconds).
pub fn parse_every(s: &str) -> Result<i64, String> {
    parse_within(s, 60, "1m")
}

/// Parses a delay like `30s`, `10m`, `1h` (1 s to 366 d): the daemon's
/// re-checks of sites the browser found suspicious (`browser_recheck`).
pub fn parse_delay(s: &str) -> Result<i64, String> {
    parse_within(s, 1, "1s")
}

fn parse_within(s: &str, min: i64, min_text: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30m, 6h or 1d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    let secs = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))?;
    if !(min..=366 * 86_400).contains(&secs) {
        return Err(format!(
            "{s:?}: the interval must be between {min_text} and 366d"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table() {
        assert_eq!(parse_every("6h"), Ok(6 * 3600));
        assert_eq!(parse_every("30m"), Ok(1800));
        assert_eq!(parse_every("1d"), Ok(86_400));
        assert!(parse_every("30s").is_err());
        assert_eq!(parse_delay("30s"), Ok(30));
        assert_eq!(parse_delay("10m"), Ok(600));
        assert!(parse_delay("0s").is_err());
        assert!(parse_delay("400d").is_err());
        assert_eq!(parse_every("3600"), Ok(3600));
        for bad in ["", "h", "5x", "10s", "400d", "99999999999999999999h"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedule_maths() {
        let site = Site::parse("a.test", 443).unwrap();
        for now in [0, 1_000_000, 1_800_000_000] {
            let d = next_due_after_success(&site, 3600, now) - now;
            assert!((3240..=3960).contains(&d), "{d}");
        }
        assert_eq!(next_due_after_failure(3600, 1, 0), 60);
        assert_eq!(next_due_after_failure(3600, 3, 0), 240);
        assert_eq!(next_due_after_failure(3600, 30, 0), 3600);
    }
}
