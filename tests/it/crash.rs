//! Crash safety: `kill -9` of a bulk check during heavy writes, repeated.
//! Every sighting the CLI acknowledged (printed: it prints only after the
//! commit) is in the database afterwards, and the database is intact.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use certwatch_tests::{sqlite, Ca, TestEnv, TlsServer};

#[test]
fn kill_9_during_bulk_check_loses_no_acknowledged_sighting() {
    let root = Ca::root("Crash Root", "Crash");
    let names: Vec<String> = (0..3000).map(|i| format!("c{i}.crash.test")).collect();
    let leaf = root
        .intermediate("Crash CA", "Crash")
        .leaf(&["*.crash.test"]);
    let srv = TlsServer::start(&leaf);
    let e = TestEnv::new().public_roots(&[&root]);
    let list = e.dir.path().join("names.txt");
    std::fs::write(&list, names.join("\n")).unwrap();
    let mut acknowledged = std::collections::BTreeSet::new();
    for round in 0..3 {
        let mut child = e
            .cmd()
            .args([
                "check",
                "--file",
                list.to_str().unwrap(),
                "--json",
                "--jobs",
                "8",
            ])
            .args(["--connect", &format!("127.0.0.1:{}", srv.port())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let stop_after = 200 + round * 150;
        for _ in 0..stop_after {
            let Some(Ok(line)) = lines.next() else { break };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            acknowledged.insert(v["host"].as_str().unwrap().to_string());
        }
        // SIGKILL in the middle of the writes.
        child.kill().unwrap();
        let _ = child.wait();
    }
    assert!(acknowledged.len() >= 200, "{}", acknowledged.len());
    let db = e.home().join("certwatch.db");
    assert_eq!(sqlite(&db, "PRAGMA integrity_check"), "ok");
    let stored: std::collections::BTreeSet<String> = sqlite(
        &db,
        "SELECT host FROM sites JOIN sightings ON sightings.site_id = sites.id",
    )
    .lines()
    .map(str::to_string)
    .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "lost {} acknowledged sightings: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // And the tool still works on that database.
    let (code, _) = e.check_json(
        "c1.crash.test",
        &["--connect", &format!("127.0.0.1:{}", srv.port())],
    );
    assert_eq!(code, 0);
}
