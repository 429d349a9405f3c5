//! Tests of [`follow`] over an in-memory log: the first run, the byte
//! budget, growth, forks and wrong entries; and name matching.

use super::*;
use crate::ct::tail::merkle::{consistency_proof, inclusion_proof, leaf_hash, root_of, Subtree};
use crate::ct::tail::{Batch, Head};

/// A log of `size` leaves `leaf(i)`; each response costs 100 "bytes".
struct Fake {
    leaves: Vec<Hash>,
    size: u64,
    /// Served in place of the real leaf at this index.
    wrong: Option<u64>,
    bytes: u64,
}

impl Fake {
    fn new(n: u64) -> Fake {
        Fake {
            leaves: (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect(),
            size: n,
            wrong: None,
            bytes: 0,
        }
    }

    fn sub(&self) -> impl FnMut(Subtree) -> Result<Hash, TailError> + '_ {
        move |s: Subtree| {
            let lo = (s.index << s.level) as usize;
            Ok(root_of(&self.leaves[lo..lo + (1usize << s.level)]))
        }
    }
}

impl LogSource for Fake {
    fn head(&mut self) -> Result<Head, TailError> {
        self.bytes += 100;
        Ok(Head {
            size: self.size,
            root: root_of(&self.leaves[..self.size as usize]),
            timestamp: 0,
        })
    }
    fn consistency(&mut self, m: u64, n: u64) -> Result<Vec<Hash>, TailError> {
        self.bytes += 100;
        consistency_proof(m, n, &mut self.sub())
    }
    fn inclusion(&mut self, index: u64, _leaf: &Hash, size: u64) -> Result<Vec<Hash>, TailError> {
        self.bytes += 100;
        inclusion_proof(index, size, &mut self.sub())
    }
    fn batch(&mut self, start: u64, size: u64) -> Result<Batch, TailError> {
        self.bytes += 100;
        let end = size.min(start - start % 10 + 10);
        let entries = (start..end)
            .map(|i| Entry {
                index: i,
                timestamp: 0,
                precert: false,
                signed_entry: vec![0x30, 0],
                der: None,
                issuer_key_hash: None,
                chain_fingerprints: Vec::new(),
                chain: Vec::new(),
                hash: if self.wrong == Some(i) {
                    [0; 32]
                } else {
                    self.leaves[i as usize]
                },
            })
            .collect();
        Ok(Batch {
            url: format!("batch{}", start / 10),
            entries,
        })
    }
    fn issuers(&mut self, _: &Entry) -> (Vec<Vec<u8>>, Option<String>) {
        (Vec::new(), None)
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

fn opts(start: Option<u64>, window: u64, max_bytes: u64) -> Options {
    Options {
        log: "fake".into(),
        domains: vec!["example.test".into()],
        include_subdomains: false,
        start,
        window,
        max_bytes,
    }
}

#[test]
fn first_runs_budgets_growth_and_forks() {
    let mut log = Fake::new(95);
    // Start beyond the head, a budget below one response: one entry is
    // still read, and the state is complete.
    let o = follow(&mut log, None, &opts(Some(1000), 0, 1)).unwrap();
    assert_eq!((o.entries_read, o.state.next, o.budget_hit), (1, 95, false));
    assert_eq!(o.state.compact.size(), 95);
    // A window, stopped by the budget mid-way, then continued.
    let mut log = Fake::new(95);
    let o = follow(&mut log, None, &opts(None, 47, 250)).unwrap();
    assert_eq!((o.entries_read, o.state.next, o.budget_hit), (2, 50, true));
    let mut log = Fake::new(130);
    let o = follow(&mut log, Some(&o.state), &opts(None, 0, u64::MAX)).unwrap();
    assert_eq!((o.entries_read, o.state.next, o.state.size), (80, 130, 130));
    assert_eq!(o.state.compact.root(), o.state.root);
    let saved = o.state;
    // A wrong entry: a failure naming its batch, before or at the budget.
    for budget in [u64::MAX, 150] {
        let mut log = Fake::new(200);
        log.wrong = Some(131);
        let e = follow(&mut log, Some(&saved), &opts(None, 0, budget)).unwrap_err();
        assert!(e.is_failure(), "{e}");
        assert!(e.to_string().contains("batch1"), "{e}");
    }
    // A fork: the same size with another root, or a larger tree that does
    // not extend the saved one.
    let mut log = Fake::new(130);
    log.leaves[3] = [9; 32];
    let e = follow(&mut log, Some(&saved), &opts(None, 0, u64::MAX)).unwrap_err();
    assert!(e.is_failure() && e.to_string().contains("forked"), "{e}");
    let mut log = Fake::new(140);
    log.leaves[3] = [9; 32];
    let e = follow(&mut log, Some(&saved), &opts(None, 0, u64::MAX)).unwrap_err();
    assert!(
        e.is_failure() && e.to_string().contains("does not extend"),
        "{e}"
    );
    // An older head that is consistent: nothing read, state kept.
    let mut log = Fake::new(130);
    log.size = 100;
    let o = follow(&mut log, Some(&saved), &opts(None, 0, u64::MAX)).unwrap();
    assert_eq!((o.entries_read, &o.state), (0, &saved));
}

#[test]
fn exact_and_subdomain_matching() {
    for (d, n, subs, want) in [
        ("example.com", "example.com", false, true),
        ("example.com", "www.example.com", false, false),
        ("example.com", "www.example.com", true, true),
        ("www.example.com", "*.example.com", false, true),
        ("example.com", "*.example.com", false, false),
        ("example.com", "*.example.com", true, true),
        ("example.com", "badexample.com", true, false),
        ("Example.COM.", "example.com", false, true),
    ] {
        assert_eq!(name_matches(d, n, subs), want, "{d} {n} {subs}");
    }
}
