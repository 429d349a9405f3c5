//! The accuracy corpus: scenario timelines (`tests/scenarios/*.toml`)
//! replayed through the real code path — a real TLS server on 127.0.0.1, the
//! real `certwatch` binary, a real SQLite history — with time moved by
//! `CERTWATCH_FAKE_NOW`. Format: `tests/scenarios/README.md`.

use std::collections::BTreeMap;
use std::path::Path;

use rcgen::KeyPair;
use serde::Deserialize;

use crate::ctlog::embed_scts;
use crate::dns::{start_dnsmasq, Dnsmasq};
use crate::{codes, leaf_params, rsa_key, self_signed_with, Leaf, TlsServer};

mod world;
pub use world::World;

/// One scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The scenarios.
    pub scenario: Vec<Scenario>,
}

/// Legitimate change or attack.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Everything here must stay below `warning`.
    Legit,
    /// Steps marked `attack = true` must be detected.
    Attack,
    /// A change a person must confirm once (`alert = true` steps alert, then
    /// `then = "accept"`); every later step must be quiet.
    Confirmed,
}

/// A site's timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name.
    pub name: String,
    /// Class.
    pub class: Class,
    /// Category for the report table.
    pub kind: String,
    /// The site (host name); default `<name>.test`.
    #[serde(default)]
    pub site: Option<String>,
    /// CAA `issue` domains published for the site; `[]` = no CAA records.
    #[serde(default)]
    pub caa: Vec<String>,
    /// The steps, in time order.
    pub steps: Vec<Step>,
}

fn default_lifetime() -> i64 {
    90
}

/// One check at one point in time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Day of the check (relative to the scenario's start).
    pub day: i64,
    /// Who issues: `CA/INTERMEDIATE`, `CA` (straight from the root), or `self`.
    /// Omit to keep serving the previous step's certificate.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Leaf lifetime in days.
    #[serde(default = "default_lifetime")]
    pub lifetime: i64,
    /// Days between issuance and this check.
    #[serde(default)]
    pub age: i64,
    /// Leaf key: `new` (default), `same` (previous step's key), `rsa`.
    #[serde(default)]
    pub key: Option<String>,
    /// Names in the leaf (default: the site).
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Embedded SCTs: `logged` (three logs, two operators; default for public CAs),
    /// `none` (default for local roots and self-signed), `one` (a single
    /// operator), `forged` (signed over another precertificate).
    #[serde(default)]
    pub sct: Option<String>,
    /// This step is the attack to detect.
    #[serde(default)]
    pub attack: bool,
    /// In a `confirmed` timeline: the alert a person must answer once.
    #[serde(default)]
    pub alert: bool,
    /// `accept`: the user runs `certwatch accept` after this step;
    /// `pin`: the user pins the site's current keys (`pins add --from-current`).
    #[serde(default)]
    pub then: Option<String>,
    /// Expected severity.
    pub expect: String,
    /// Reason codes that must be present.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Reason codes that must be absent.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// The outcome of one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// Scenario name.
    pub scenario: String,
    /// Class.
    pub class: Class,
    /// Category.
    pub kind: String,
    /// Step index.
    pub index: usize,
    /// Is this an attack step.
    pub attack: bool,
    /// Is this an expected, user-confirmed alert.
    pub alert: bool,
    /// Whether the attack is of a kind that must be critical (local root, pin violation).
    pub must_be_critical: bool,
    /// Severity seen.
    pub severity: String,
    /// Codes seen.
    pub codes: Vec<String>,
    /// Mismatches with the expectation (empty = as expected).
    pub mismatches: Vec<String>,
}

/// Loads every `*.toml` in `dir`, sorted by file name.
pub fn load(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        out.extend(file.scenario);
    }
    let mut names = std::collections::HashSet::new();
    for s in &out {
        if !names.insert(s.name.clone()) {
            return Err(format!("duplicate scenario name {}", s.name));
        }
    }
    Ok(out)
}

const DAY: i64 = 86_400;

/// The site a scenario checks.
pub fn site_of(s: &Scenario) -> String {
    s.site.clone().unwrap_or_else(|| format!("{}.test", s.name))
}

/// Starts one DNS server with every scenario's CAA records, or `None` (with
/// the reason printed) when dnsmasq is not installed.
pub fn dns_for(scenarios: &[Scenario]) -> Option<Dnsmasq> {
    let records: Vec<(String, String)> = scenarios
        .iter()
        .flat_map(|s| s.caa.iter().map(move |d| (site_of(s), d.clone())))
        .collect();
    let refs: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|(n, d)| (n.as_str(), "issue", d.as_str()))
        .collect();
    let d = start_dnsmasq(&refs);
    if d.is_none() {
        eprintln!("skipped: dnsmasq is not installed (apt-get install dnsmasq-base): the corpus needs a CAA server");
    }
    d
}

/// Replays one scenario.
pub fn run(world: &World, dns: &Dnsmasq, s: &Scenario) -> Vec<StepResult> {
    let (env, log_list) = world.env();
    let site = site_of(s);
    let start = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut results = Vec::new();
    let mut server: Option<TlsServer> = None;
    let mut prev_key: Option<Vec<u8>> = None;
    let mut prev_leaf: Option<Leaf> = None;
    for (i, step) in s.steps.iter().enumerate() {
        let now = start + step.day * DAY;
        let leaf = match &step.issuer {
            None => prev_leaf.clone().expect("first step needs an issuer"),
            Some(issuer) => {
                let key = match step.key.as_deref() {
                    Some("same") => {
                        KeyPair::try_from(prev_key.clone().expect("no previous key").as_slice())
                            .unwrap()
                    }
                    Some("rsa") => rsa_key(),
                    None | Some("new") => KeyPair::generate().unwrap(),
                    Some(other) => panic!("{}: unknown key {other:?}", s.name),
                };
                let names: Vec<String> = step.names.clone().unwrap_or_else(|| vec![site.clone()]);
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let issued = now - step.age * DAY;
                let nb = time::OffsetDateTime::from_unix_timestamp(issued - 3600).unwrap();
                let na = time::OffsetDateTime::from_unix_timestamp(issued + step.lifetime * DAY)
                    .unwrap();
                if issuer == "self" {
                    self_signed_with(&names, &key)
                } else {
                    let ca = world
                        .ca(issuer)
                        .unwrap_or_else(|| panic!("{}: unknown issuer {issuer}", s.name));
                    let default_sct = if world.is_public(issuer) {
                        "logged"
                    } else {
                        "none"
                    };
                    let params = leaf_params(&names, nb, na);
                    let ts_ms = ((issued - 1800) * 1000) as u64;
                    let [a, b, c] = &world.logs;
                    match step.sct.as_deref().unwrap_or(default_sct) {
                        "logged" => embed_scts(ca, &params, &key, &[a, b, c], ts_ms, None),
                        "one" => embed_scts(ca, &params, &key, &[a], ts_ms, None),
                        "forged" => {
                            let other = leaf_params(&["forged.invalid"], nb, na);
                            embed_scts(ca, &params, &key, &[a, b, c], ts_ms, Some(&other))
                        }
                        "none" => ca.leaf_at(&names, nb, na, &key),
                        other => panic!("{}: unknown sct {other:?}", s.name),
                    }
                }
            }
        };
        prev_key = Some(leaf.key_der.clone());
        match &server {
            Some(srv) => srv.swap(&leaf),
            None => server = Some(TlsServer::start(&leaf)),
        }
        prev_leaf = Some(leaf);
        let srv = server.as_ref().unwrap();
        let out = env
            .cmd()
            .args([
                "check",
                &site,
                "--json",
                "--connect",
                &format!("127.0.0.1:{}", srv.port()),
            ])
            .arg("--log-list")
            .arg(&log_list)
            .args(["--dns-server", &dns.addr.to_string()])
            .env("CERTWATCH_FAKE_NOW", now.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = stdout
            .lines()
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        let severity = v["severity"].as_str().unwrap_or("(no output)").to_string();
        let got = codes(&v);
        let mut mismatches = Vec::new();
        if severity != step.expect {
            mismatches.push(format!("severity {severity}, expected {}", step.expect));
        }
        for c in &step.codes {
            if !got.contains(c) {
                mismatches.push(format!("missing {c}"));
            }
        }
        for c in &step.absent {
            if got.contains(c) {
                mismatches.push(format!("unexpected {c}"));
            }
        }
        if !mismatches.is_empty() {
            mismatches.push(format!("reasons: {}", v["reasons"]));
        }
        let kind = s.kind.to_lowercase();
        results.push(StepResult {
            scenario: s.name.clone(),
            class: s.class,
            kind: s.kind.clone(),
            index: i,
            attack: step.attack,
            alert: step.alert,
            // The targets: every local-root interception of a known
            // site and every pin violation must be critical.
            must_be_critical: step.attack
                && (kind.starts_with("local root interception") || kind.contains("pin violation")),
            severity,
            codes: got,
            mismatches,
        });
        let then: Option<Vec<String>> = match step.then.as_deref() {
            Some("accept") => Some(vec!["accept".into(), site.clone()]),
            Some("pin") => Some(vec![
                "pins".into(),
                "add".into(),
                site.clone(),
                "--from-current".into(),
                "--connect".into(),
                format!("127.0.0.1:{}", srv.port()),
            ]),
            Some(other) => panic!("{}: unknown then {other:?}", s.name),
            None => None,
        };
        if let Some(args) = then {
            let out = env
                .cmd()
                .args(&args)
                .env("CERTWATCH_FAKE_NOW", now.to_string())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {args:?} failed: {}",
                s.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    results
}

fn alarm(sev: &str) -> bool {
    matches!(sev, "warning" | "critical")
}

/// Summary figures.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Legit steps.
    pub legit_steps: usize,
    /// Legit steps at ≥ warning.
    pub false_alarms: usize,
    /// Attack steps.
    pub attack_steps: usize,
    /// Attack steps at ≥ warning.
    pub detected: usize,
    /// Attack steps at critical.
    pub critical: usize,
    /// Attack steps that must be critical.
    pub must_be_critical: usize,
    /// … and were.
    pub must_be_critical_ok: usize,
    /// Steps not as the scenario expects.
    pub mismatches: usize,
    /// Expected alerts in confirmed timelines.
    pub expected_alerts: usize,
}

/// Aggregates results.
pub fn summarize(results: &[StepResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        if !r.mismatches.is_empty() {
            s.mismatches += 1;
        }
        if r.alert {
            s.expected_alerts += 1;
        } else if r.class != Class::Attack || !r.attack {
            s.legit_steps += 1;
            s.false_alarms += usize::from(alarm(&r.severity));
        } else {
            s.attack_steps += 1;
            s.detected += usize::from(alarm(&r.severity));
            s.critical += usize::from(r.severity == "critical");
            if r.must_be_critical {
                s.must_be_critical += 1;
                s.must_be_critical_ok += usize::from(r.severity == "critical");
            }
        }
    }
    s
}

/// The Markdown report table: per class and kind.
pub fn table(results: &[StepResult]) -> String {
    let mut by: BTreeMap<(Class, String), Vec<&StepResult>> = BTreeMap::new();
    for r in results {
        by.entry((r.class, r.kind.clone())).or_default().push(r);
    }
    let mut out = String::from(
        "| class | kind | timelines | steps judged | attack steps detected (≥ warning) | critical | false alarms (≥ warning on a legitimate step) |\n|---|---|---|---|---|---|---|\n",
    );
    for ((class, kind), rs) in &by {
        let timelines = rs
            .iter()
            .map(|r| &r.scenario)
            .collect::<std::collections::HashSet<_>>()
            .len();
        let s = summarize(&rs.iter().map(|r| (*r).clone()).collect::<Vec<_>>());
        let c = match class {
            Class::Legit => "legit",
            Class::Attack => "attack",
            Class::Confirmed => "confirmed once",
        };
        let (det, crit) = if s.attack_steps > 0 {
            (
                format!("{}/{}", s.detected, s.attack_steps),
                format!("{}/{}", s.critical, s.attack_steps),
            )
        } else {
            ("–".into(), "–".into())
        };
        out.push_str(&format!(
            "| {c} | {kind} | {timelines} | {} | {det} | {crit} | {}/{} |\n",
            rs.len(),
            s.false_alarms,
            s.legit_steps
        ));
    }
    let s = summarize(results);
    out.push_str(&format!(
        "| **all** | | {} | {} | **{}/{}** | **{}/{}** | **{}/{} ({:.1}%)** |\n",
        results
            .iter()
            .map(|r| &r.scenario)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        results.len(),
        s.detected,
        s.attack_steps,
        s.critical,
        s.attack_steps,
        s.false_alarms,
        s.legit_steps,
        100.0 * s.false_alarms as f64 / s.legit_steps.max(1) as f64
    ));
    out
}
