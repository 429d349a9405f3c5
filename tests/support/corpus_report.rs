//! `cargo run -p certwatch-tests --bin corpus-report`: replays the accuracy
//! corpus and prints the Markdown table (README "Accuracy").

fn main() {
    let dir = certwatch_tests::workspace_root().join("tests/scenarios");
    let scenarios = match certwatch_tests::corpus::load(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("corpus-report: {e}");
            std::process::exit(3);
        }
    };
    let world = certwatch_tests::corpus::World::new();
    let Some(dns) = certwatch_tests::corpus::dns_for(&scenarios) else {
        std::process::exit(3);
    };
    let mut results = Vec::new();
    for s in &scenarios {
        results.extend(certwatch_tests::corpus::run(&world, &dns, s));
    }
    print!("{}", certwatch_tests::corpus::table(&results));
    for r in results.iter().filter(|r| !r.mismatches.is_empty()) {
        eprintln!(
            "MISMATCH {} step {}: {}",
            r.scenario,
            r.index,
            r.mismatches.join("; ")
        );
    }
}
