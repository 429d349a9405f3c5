//! The accuracy corpus as a test: every scenario in tests/scenarios replayed
//! through the real binary; fails on any regression and on missed targets.

use certwatch_tests::corpus::{load, run, summarize, table, World};

#[test]
fn accuracy_corpus() {
    let dir = certwatch_tests::workspace_root().join("tests/scenarios");
    let scenarios = load(&dir).unwrap();
    let world = World::new();
    let Some(dns) = certwatch_tests::corpus::dns_for(&scenarios) else {
        return;
    };
    let results: Vec<_> = scenarios
        .iter()
        .flat_map(|s| run(&world, &dns, s))
        .collect();
    println!("{}", table(&results));
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !r.mismatches.is_empty())
        .map(|r| {
            format!(
                "{} step {}: {}",
                r.scenario,
                r.index,
                r.mismatches.join("; ")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} step(s) regressed:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let s = summarize(&results);
    assert_eq!(s.detected, s.attack_steps, "undetected attacks");
    assert_eq!(
        s.must_be_critical_ok, s.must_be_critical,
        "local-root/pin attacks below critical"
    );
    assert!(
        s.false_alarms * 100 <= s.legit_steps,
        "false alarms {}/{} over 1%",
        s.false_alarms,
        s.legit_steps
    );
}
