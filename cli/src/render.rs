//! Human output. Every string that came from a certificate or a server goes
//! through [`sanitize`] before it reaches the terminal. Colour only on a
//! terminal, and never when `NO_COLOR` is set.

use std::io::IsTerminal as _;

use certwatch_engine::check::{CheckError, Checked};
use certwatch_engine::probe::Site;
use certwatch_engine::report::{ct_list_notice, rfc3339};
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::verdict::Severity;

/// Whether to colour stdout.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn paint(s: &str, sev: Severity, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    let code = match sev {
        Severity::Ok => "32",
        Severity::Info => "36",
        Severity::Warning => "33",
        Severity::Critical => "1;31",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

fn label(sev: Severity) -> &'static str {
    match sev {
        Severity::Ok => "OK",
        Severity::Info => "OK (info)",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

fn mark(sev: Severity) -> &'static str {
    match sev {
        Severity::Ok => " ",
        Severity::Info => "i",
        Severity::Warning => "!",
        Severity::Critical => "✗",
    }
}

/// A check result in plain words.
pub fn checked(c: &Checked, color: bool) -> String {
    let v = &c.verdict;
    let ca = &c.analysis.ca;
    let mut s = format!(
        "{}  {}  {} [{}]\n",
        sanitize(&c.site.to_string()),
        paint(label(v.severity), v.severity, color),
        sanitize(&ca.describe()),
        c.analysis.trust.kind.as_str(),
    );
    if let Some(prev) = &v.previous_ca {
        s.push_str(&format!("  was: {}\n", sanitize(&prev.describe())));
        s.push_str(&format!("  now: {}\n", sanitize(&ca.describe())));
    }
    let leaf = &c.analysis.chain[0];
    s.push_str(&format!(
        "  certificate: {} (valid {} → {}), sha256 {}…\n",
        sanitize(leaf.display_name()),
        &rfc3339(leaf.not_before)[..10],
        &rfc3339(leaf.not_after)[..10],
        &leaf.sha256[..16],
    ));
    for r in &v.reasons {
        s.push_str(&format!(
            "  {} {}: {}\n",
            paint(mark(r.severity), r.severity, color),
            r.code.as_str(),
            sanitize(&r.message)
        ));
    }
    if let Some(n) = c
        .evidence
        .ct
        .as_ref()
        .and_then(|ct| ct_list_notice(ct.list_date, c.at))
    {
        s.push_str(&format!(
            "  {} note: {n}\n",
            paint("i", Severity::Info, color)
        ));
    }
    if v.severity >= Severity::Warning {
        s.push_str(&advice(c));
    }
    s
}

fn advice(c: &Checked) -> String {
    let site = sanitize(&c.site.to_string());
    if c.verdict.severity == Severity::Critical {
        format!(
            "  What to do: do not log in or send anything sensitive to {site} from this network until you know why.\n  If you trust this change (e.g. your employer's proxy), run: certwatch accept {site}\n"
        )
    } else {
        format!(
            "  What to do: if the site announced a CA switch this is expected; confirm with: certwatch accept {site}\n"
        )
    }
}

/// A failed check in one line.
pub fn failed(site: &Site, e: &CheckError, color: bool) -> String {
    let _ = color;
    format!(
        "{}  UNKNOWN  {}",
        sanitize(&site.to_string()),
        sanitize(&e.to_string())
    )
}
