//! Output formats for monitoring (issue 14): `check --format
//! nagios|prometheus` against real loopback TLS servers, and the daemon's
//! `metrics_textfile` (written at start and after each pass, atomically,
//! 0644), read back with a real OpenMetrics parser (Python's
//! `prometheus_client`; those checks are skipped, with a message, when it
//! is not installed).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use certwatch_tests::{code, stderr, stdout, Ca, TestEnv, TlsServer};
use serde_json::Value;

use crate::daemon::{poll, start_daemon, write_config};

/// A hostile organisation name: quotes, a backslash, a pipe.
const EVIL_ORG: &str = "Evil \"Org\" \\ | x";

/// `text` parsed by `prometheus_client.openmetrics.parser`: one
/// `{name, labels, value}` per sample, or None when the module is missing.
fn openmetrics_samples(text: &str) -> Option<Vec<Value>> {
    const SCRIPT: &str = r#"
import json, sys
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("MISSING"); sys.exit(0)
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append({"family": f.name, "type": f.type, "unit": f.unit, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    if so.trim() == "MISSING" {
        eprintln!("skipping the OpenMetrics parser check: python3 has no prometheus_client");
        return None;
    }
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_str(&so).unwrap())
}

/// A perfdata item's value ("10" when within 10 minutes of 10), warn and crit.
fn perf(line: &str, label: &str) -> Vec<String> {
    let (_, data) = line.split_once(" | ").unwrap_or_default();
    let key = format!("{label}=");
    let at = data
        .find(&key)
        .unwrap_or_else(|| panic!("no {label} in {line}"));
    let item = data[at + key.len()..].split(' ').next().unwrap();
    let mut v: Vec<String> = item.split(';').map(String::from).collect();
    let x: f64 = v[0].parse().unwrap();
    if (x - 10.0).abs() < 0.02 {
        v[0] = "10".into();
    }
    v.truncate(3);
    v
}

fn sample<'a>(samples: &'a [Value], name: &str, host: &str) -> Option<&'a Value> {
    samples
        .iter()
        .find(|s| s["name"] == name && s["labels"]["host"] == host)
}

/// A loopback server for `a.test` whose intermediate's O is [`EVIL_ORG`]
/// (leaf from `not_before_days` ago, `days` long), its env and `--connect`.
fn evil_site(not_before_days: i64, days: i64) -> (TlsServer, TestEnv, String, Ca) {
    let root = Ca::root("Fmt Root", "Fmt Trust");
    let int = root.intermediate("Fmt CA", EVIL_ORG);
    let srv = TlsServer::start(&int.leaf_valid(&["a.test"], not_before_days, days));
    let e = TestEnv::new().public_roots(&[&root]);
    let c = format!("127.0.0.1:{}", srv.port());
    (srv, e, c, int)
}

/// `check a.test b.test --connect C --format FORMAT EXTRA…`.
fn check_ab(e: &TestEnv, c: &str, format: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "check",
        "a.test",
        "b.test",
        "--connect",
        c,
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    e.run(&args)
}

#[test]
fn check_nagios_output_and_exit_codes() {
    // 10 of 90 days left: the default thresholds (14 and 7 days) say warning.
    let (_srv, e, c, int) = evil_site(80, 90);

    let o = e.run(&["check", "a.test", "--connect", &c, "--format", "nagios"]);
    let text = stdout(&o);
    assert_eq!(code(&o), 1, "{text}{}", stderr(&o));
    let first = text.lines().next().unwrap();
    // 10 days less the seconds since the certificate was made: 9 or 10
    // whole days, depending on the second the check runs in.
    assert!(
        first.starts_with("CERTWATCH WARNING - a.test:443: the certificate expires in 9 days")
            || first
                .starts_with("CERTWATCH WARNING - a.test:443: the certificate expires in 10 days"),
        "{first}"
    );
    let days = perf(first, "days_left");
    assert!(["9", "10"].contains(&days[0].as_str()), "{first}");
    assert_eq!(days[1..], ["14:", "7:"], "{first}");
    assert!(first.ends_with(" chain_length=2;;;0"), "{first}");
    // The certificate's O (with a `|`) never adds a second perfdata start.
    assert_eq!(text.matches('|').count(), 1, "{text}");
    assert!(
        text.lines().count() > 1,
        "details after the status line: {text}"
    );

    // Thresholds from the flags; several sites: one status line, the worst.
    let o = check_ab(
        &e,
        &c,
        "nagios",
        &["--warn-days", "30", "--crit-days", "2", "--no-store"],
    );
    let text = stdout(&o);
    assert_eq!(code(&o), 2, "{text}{}", stderr(&o));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("CERTWATCH CRITICAL - 2 sites (1 CRITICAL, 1 WARNING); b.test:443: "),
        "{text}"
    );
    assert_eq!(
        perf(lines[0], "'a.test:443 days_left'"),
        ["10", "30:", "2:"],
        "{text}"
    );
    assert!(
        lines[1..]
            .iter()
            .any(|l| l.starts_with("WARNING - a.test:443: ")),
        "{text}"
    );
    assert!(
        lines[1..]
            .iter()
            .any(|l| l.starts_with("CRITICAL - b.test:443: ")),
        "{text}"
    );
    assert!(lines[1..].iter().all(|l| !l.contains('|')), "{text}");

    // A site that cannot be reached: UNKNOWN, 3.
    let o = e.run(&[
        "check",
        "a.test",
        "--connect",
        "127.0.0.1:1",
        "--format",
        "nagios",
    ]);
    assert_eq!(code(&o), 3);
    assert!(
        stdout(&o).starts_with("CERTWATCH UNKNOWN - a.test:443: connect"),
        "{}",
        stdout(&o)
    );

    // --json stays, as --format json; with another --format it is a usage error.
    let o = e.run(&["check", "a.test", "--connect", &c, "--json", "--no-store"]);
    let j: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let o = e.run(&[
        "check",
        "a.test",
        "--connect",
        &c,
        "--format",
        "json",
        "--no-store",
    ]);
    let f: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["severity"], f["severity"]);
    assert_eq!(j["chain"], f["chain"]);
    let o = e.run(&["check", "a.test", "--json", "--format", "nagios"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));

    // inspect takes the formats too (no expiry rule: no thresholds).
    let chain = e.write("chain.pem", &int.leaf(&["i.test"]).pem());
    let chain = chain.to_str().unwrap();
    let o = e.run(&["inspect", chain, "--format", "nagios"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("CERTWATCH OK - i.test:443: "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(";; chain_length=2;;;0\n"),
        "{}",
        stdout(&o)
    );
    let o = e.run(&["inspect", chain, "--format", "prometheus"]);
    assert!(stdout(&o).ends_with("# EOF\n"), "{}", stdout(&o));
}

#[test]
fn check_prometheus_output_parses_as_openmetrics() {
    let (_srv, e, c, _) = evil_site(10, 90);
    let (_, j) = e.check_json("a.test", &["--connect", &c, "--no-store"]);
    let o = check_ab(&e, &c, "prometheus", &[]);
    let text = stdout(&o);
    assert_eq!(code(&o), 2, "b.test does not match the certificate: {text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains(
        "certwatch_verdict_severity{host=\"a.test\",port=\"443\",ca_operator=\"Evil \\\"Org\\\" \\\\ | x\"} 0\n"
    ), "{text}");
    assert!(text.contains("# UNIT certwatch_certificate_expiry_timestamp_seconds seconds\n"));
    let Some(samples) = openmetrics_samples(&text) else {
        return;
    };
    let exp = sample(
        &samples,
        "certwatch_certificate_expiry_timestamp_seconds",
        "a.test",
    )
    .unwrap();
    assert_eq!(exp["labels"]["ca_operator"], EVIL_ORG);
    assert_eq!(exp["labels"]["port"], "443");
    assert_eq!(exp["unit"], "seconds");
    let not_after = time::OffsetDateTime::parse(
        j["chain"][0]["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert_eq!(exp["value"].as_f64(), Some(not_after as f64));
    let sev = sample(&samples, "certwatch_verdict_severity", "b.test").unwrap();
    assert_eq!(sev["value"].as_f64(), Some(3.0), "critical");
    assert_eq!(
        sample(&samples, "certwatch_check_success", "a.test").unwrap()["value"].as_f64(),
        Some(1.0)
    );
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn daemon_writes_the_metrics_textfile() {
    let root = Ca::root("Tf Root", "Tf Trust");
    let int_a = root.intermediate("Tf CA A", EVIL_ORG);
    let root_b = Ca::root("Tf Root B", "Other Trust");
    let int_b = root_b.intermediate("Tf CA B", "Other Org");
    let srv = TlsServer::start(&int_a.leaf_valid(&["shop.test"], 10, 90));
    let e = TestEnv::new().public_roots(&[&root, &root_b]);
    let dir = e.path("textfile");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("certwatch.prom");
    write_config(
        &e,
        &format!(
            "notifications = false\nmetrics_textfile = {:?}\n",
            file.display().to_string()
        ),
    );

    // A reader that never sees a part of a file.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, file) = (stop.clone(), file.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(t) = std::fs::read_to_string(&file) {
                    assert!(t.ends_with("# EOF\n"), "a partial textfile: {t:?}");
                    reads += 1;
                }
            }
            reads
        })
    };

    let d = start_daemon(&e, None);
    // At start, with nothing watched: the families, no samples.
    let t = poll("the textfile at start", 20, || {
        std::fs::read_to_string(&file).ok()
    });
    assert!(t.ends_with("# EOF\n") && !t.contains("host="), "{t}");
    assert_eq!(mode(&file), 0o644);

    let c = format!("127.0.0.1:{}", srv.port());
    let add = || {
        let o = e.run(&[
            "watch",
            "add",
            "shop.test",
            "--connect",
            &c,
            "--every",
            "1h",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    add();
    let t = poll("the watched site's metrics", 20, || {
        let t = std::fs::read_to_string(&file).ok()?;
        t.contains("certwatch_check_success{host=\"shop.test\"")
            .then_some(t)
    });
    if let Some(s) = openmetrics_samples(&t) {
        let sev = sample(&s, "certwatch_verdict_severity", "shop.test").unwrap();
        assert_eq!(sev["labels"]["ca_operator"], EVIL_ORG);
        assert_eq!(sev["labels"]["port"], "443");
        assert_eq!(sev["value"].as_f64(), Some(0.0), "{t}");
    }

    // The next pass: another CA (a warning), the old series gone.
    srv.swap(&int_b.leaf_valid(&["shop.test"], 1, 90));
    add();
    let t = poll("the metrics after the next pass", 20, || {
        let t = std::fs::read_to_string(&file).ok()?;
        t.contains("ca_operator=\"Other Org\"").then_some(t)
    });
    assert!(!t.contains("Evil"), "{t}");
    assert!(
        t.contains("certwatch_verdict_severity{host=\"shop.test\",port=\"443\",ca_operator=\"Other Org\"} 2\n"),
        "{t}"
    );
    assert_eq!(mode(&file), 0o644);

    // A restart before the site is due again: the file from the history.
    drop(d);
    std::fs::remove_file(&file).unwrap();
    let _d = start_daemon(&e, None);
    let t = poll("the textfile from the history", 20, || {
        let t = std::fs::read_to_string(&file).ok()?;
        t.contains("host=\"shop.test\"").then_some(t)
    });
    assert!(
        t.contains("certwatch_check_success{host=\"shop.test\",port=\"443\",ca_operator=\"Other Org\"} 1\n"),
        "{t}"
    );
    assert!(
        !t.contains("certwatch_ct_compliant{"),
        "no CT facts from the history: {t}"
    );
    openmetrics_samples(&t);
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
}
