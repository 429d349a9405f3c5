//! Nagios / Icinga plugin output, after the Monitoring Plugins Development
//! Guidelines: one status line, `CERTWATCH <STATE> - <site>: <summary> |
//! <perfdata>`, then the long output (one line per reason). The state is
//! the exit code's (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! Several sites: the status line carries the worst state, the count per
//! state and the worst site's summary, and the perfdata of every site
//! (labels prefixed with the site: `'example.org:443 days_left'`); the
//! long output has a `STATE - site: summary` line per site, in input
//! order, each followed by its reasons.
//!
//! Perfdata is `'label'=value[UOM];[warn];[crit];[min];[max]`:
//! `days_left` (to the leaf's notAfter, two decimals, truncated) with the expiry
//! thresholds in effect as ranges (`14:` = alert below 14 days: the
//! lifetime-relative defaults or `--warn-days`/`--crit-days`),
//! `sct_count` and `chain_length` (min 0).
//!
//! Certificate text is untrusted: [`clean`] escapes control characters (so
//! no newline can end the status line) and replaces `|` (which would start
//! perfdata, also in the long output) by `/`.

use std::fmt::Write as _;

use super::{SiteSummary, State};
use crate::sanitize::sanitize;

const DAY: f64 = 86_400.0;

/// The plugin output for `sites` (in input order) and `invalid` site
/// entries that could not be parsed (UNKNOWN, reported on stderr), and the
/// exit state.
pub fn render(sites: &[SiteSummary], invalid: usize) -> (String, State) {
    let start = if invalid > 0 {
        State::Unknown
    } else {
        State::Ok
    };
    let state = sites.iter().fold(start, |s, site| s.worst(site.state()));
    let Some(first) = sites.first() else {
        let what = match invalid {
            0 => "no sites checked".to_string(),
            n => format!("{n} invalid site entries (see stderr)"),
        };
        return (format!("CERTWATCH UNKNOWN - {what}\n"), State::Unknown);
    };
    let mut out = String::new();
    if sites.len() == 1 && invalid == 0 {
        let _ = write!(
            out,
            "CERTWATCH {} - {}: {}",
            state.as_str(),
            clean(&first.site.to_string()),
            clean(&first.summary)
        );
        push_perfdata(&mut out, &perfdata(first, ""));
        out.push('\n');
        for d in &first.details {
            let _ = writeln!(out, "{}", clean(d));
        }
        return (out, state);
    }
    let mut counts: Vec<String> = [State::Critical, State::Unknown, State::Warning, State::Ok]
        .iter()
        .filter_map(|st| {
            let n = sites.iter().filter(|s| s.state() == *st).count();
            (n > 0).then(|| format!("{n} {}", st.as_str()))
        })
        .collect();
    if invalid > 0 {
        counts.push(format!("{invalid} invalid"));
    }
    let _ = write!(
        out,
        "CERTWATCH {} - {} sites ({}); ",
        state.as_str(),
        sites.len() + invalid,
        counts.join(", "),
    );
    // The worst site: the first one in the worst state.
    match sites.iter().find(|s| s.state() == state) {
        Some(w) => {
            let _ = write!(out, "{}: {}", clean(&w.site.to_string()), clean(&w.summary));
        }
        None => out.push_str("invalid site entries (see stderr)"),
    }
    let perf: Vec<String> = sites
        .iter()
        .flat_map(|s| perfdata(s, &format!("{} ", s.site)))
        .collect();
    push_perfdata(&mut out, &perf);
    out.push('\n');
    for s in sites {
        let _ = writeln!(
            out,
            "{} - {}: {}",
            s.state().as_str(),
            clean(&s.site.to_string()),
            clean(&s.summary)
        );
        for d in &s.details {
            let _ = writeln!(out, "  {}", clean(d));
        }
    }
    (out, state)
}

fn push_perfdata(out: &mut String, perf: &[String]) {
    if !perf.is_empty() {
        out.push_str(" | ");
        out.push_str(&perf.join(" "));
    }
}

/// The perfdata items of one site, labels prefixed with `prefix`.
fn perfdata(s: &SiteSummary, prefix: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Some((_, not_after)) = s.validity {
        let (warn, crit) = s
            .thresholds
            .map(|(w, c)| {
                (
                    format!("{}:", num(w as f64 / DAY)),
                    format!("{}:", num(c as f64 / DAY)),
                )
            })
            .unwrap_or_default();
        v.push(format!(
            "{}={};{warn};{crit}",
            label(&format!("{prefix}days_left")),
            // Truncated, not rounded: 11.999 days left is 11.99, as the
            // summary's "expires in 11 days".
            num(((not_after - s.at) as f64 / DAY * 100.0 + 1e-9).floor() / 100.0)
        ));
    }
    if let Some(n) = s.sct_count {
        v.push(format!("{}={n};;;0", label(&format!("{prefix}sct_count"))));
    }
    if let Some(n) = s.chain_length {
        v.push(format!(
            "{}={n};;;0",
            label(&format!("{prefix}chain_length"))
        ));
    }
    v
}

/// A perfdata label: quoted when it has a space, `=` or `'` (a quote doubled).
fn label(l: &str) -> String {
    let l = clean(l);
    if l.contains([' ', '=', '\'']) {
        format!("'{}'", l.replace('\'', "''"))
    } else {
        l
    }
}

/// A number in `[-0-9.]`: at most two decimals, no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".into(),
        s => s.into(),
    }
}

/// Untrusted text made safe for one line of plugin output.
pub fn clean(s: &str) -> String {
    sanitize(s).replace('|', "/")
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;
    use crate::verdict::Severity;

    #[test]
    fn one_site_ok() {
        let (out, st) = render(&[sample("example.org", Some(Severity::Ok))], 0);
        assert_eq!(st, State::Ok);
        assert_eq!(
            out,
            "CERTWATCH OK - example.org:443: Let's Encrypt, expires in 59 days | days_left=59;14:;7: sct_count=2;;;0 chain_length=2;;;0\n"
        );
    }

    #[test]
    fn states_follow_the_exit_codes() {
        let cases = [
            (Some(Severity::Info), "OK", 0),
            (Some(Severity::Warning), "WARNING", 1),
            (Some(Severity::Critical), "CRITICAL", 2),
            (None, "UNKNOWN", 3),
        ];
        for (sev, word, code) in cases {
            let (out, st) = render(&[sample("a.test", sev)], 0);
            assert!(
                out.starts_with(&format!("CERTWATCH {word} - a.test:443: ")),
                "{out}"
            );
            assert_eq!(st.code(), code);
        }
    }

    #[test]
    fn hostile_certificate_text_cannot_break_the_output() {
        let mut s = sample("a.test", Some(Severity::Critical));
        s.summary = "CA changed to Evil | days_left=999\nCERTWATCH OK - fake".into();
        s.details = vec!["critical ca_changed: O=a|b\r\n\u{202e}x".into()];
        let (out, _) = render(&[s], 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0].matches('|').count(), 1, "{out}");
        assert!(lines[0].starts_with(
            "CERTWATCH CRITICAL - a.test:443: CA changed to Evil / days_left=999\\u{a}CERTWATCH OK - fake | days_left=59;"
        ));
        assert!(!lines[1].contains('|') && !lines[1].contains('\u{202e}'));
    }

    #[test]
    fn several_sites_one_status_line_for_the_worst() {
        let mut c = sample("b.test", Some(Severity::Critical));
        c.summary = "the CA changed".into();
        c.details = vec!["critical ca_changed: the CA changed".into()];
        let mut f = sample("c.test", None);
        f.validity = None;
        f.sct_count = None;
        f.chain_length = None;
        f.summary = "connect: refused".into();
        let (out, st) = render(&[sample("a.test", Some(Severity::Ok)), c, f], 0);
        assert_eq!(st, State::Critical);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "CERTWATCH CRITICAL - 3 sites (1 CRITICAL, 1 UNKNOWN, 1 OK); b.test:443: the CA changed | \
             'a.test:443 days_left'=59;14:;7: 'a.test:443 sct_count'=2;;;0 'a.test:443 chain_length'=2;;;0 \
             'b.test:443 days_left'=59;14:;7: 'b.test:443 sct_count'=2;;;0 'b.test:443 chain_length'=2;;;0"
        );
        assert_eq!(
            &lines[1..],
            [
                "OK - a.test:443: Let's Encrypt, expires in 59 days",
                "CRITICAL - b.test:443: the CA changed",
                "  critical ca_changed: the CA changed",
                "UNKNOWN - c.test:443: connect: refused",
            ]
        );
    }

    #[test]
    fn thresholds_and_numbers() {
        let mut s = sample("a.test", Some(Severity::Warning));
        // A 6-day certificate: 20 % / 10 % of its lifetime.
        s.validity = Some((s.at - 5 * 86_400, s.at + 86_400 / 2));
        s.thresholds = Some((6 * 86_400 / 5, 6 * 86_400 / 10));
        s.ct_compliant = None;
        s.sct_count = None;
        let (out, _) = render(&[s.clone()], 0);
        assert!(
            out.contains("| days_left=0.5;1.2:;0.6: chain_length=2;;;0\n"),
            "{out}"
        );
        s.thresholds = None;
        s.validity = Some((0, s.at - 3 * 86_400));
        assert!(render(&[s.clone()], 0)
            .0
            .contains("| days_left=-3;; chain_length"));
        assert_eq!(label("x y'z"), "'x y''z'");
        assert_eq!(num(-0.001), "0");
        s.validity = Some((0, s.at + 12 * 86_400 - 60));
        assert!(render(&[s], 0)
            .0
            .contains("| days_left=11.99;; chain_length"));
        assert_eq!(render(&[], 0).1, State::Unknown);
        assert_eq!(
            render(&[], 2).0,
            "CERTWATCH UNKNOWN - 2 invalid site entries (see stderr)\n"
        );
        let (out, st) = render(&[sample("a.test", Some(Severity::Ok))], 1);
        assert_eq!(st, State::Unknown);
        assert!(out.starts_with("CERTWATCH UNKNOWN - 2 sites (1 OK, 1 invalid); invalid site entries (see stderr) | 'a.test:443 days_left'=59;"), "{out}");
    }
}
