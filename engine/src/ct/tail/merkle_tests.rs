//! Table tests of the Merkle code against an independent, recursive
//! transcription of RFC 6962 §2.1 (MTH, PATH, PROOF) over small trees.

use super::*;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// RFC 6962 MTH, recursively.
fn mth(d: &[Hash]) -> Hash {
    if d.is_empty() {
        return empty_root();
    }
    if d.len() == 1 {
        return d[0];
    }
    let mut k = 1;
    while k * 2 < d.len() {
        k *= 2;
    }
    node_hash(&mth(&d[..k]), &mth(&d[k..]))
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 PATH.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// RFC 6962 SUBPROOF.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    if m == d.len() {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(d.len());
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn source(d: &[Hash]) -> impl FnMut(Subtree) -> Result<Hash, ()> + '_ {
    move |s: Subtree| {
        let lo = (s.index << s.level) as usize;
        let hi = lo + (1usize << s.level);
        d.get(lo..hi).map(mth).ok_or(())
    }
}

#[test]
fn roots_and_compact_ranges_agree_with_mth() {
    let d = leaves(70);
    let mut c = CompactRange::new();
    assert_eq!(c.root(), empty_root());
    for n in 1..=70usize {
        c.push(d[n - 1]);
        assert_eq!(c.size(), n as u64);
        assert_eq!(c.hashes().len(), n.count_ones() as usize);
        assert_eq!(c.root(), mth(&d[..n]), "n={n}");
        assert_eq!(root_of(&d[..n]), mth(&d[..n]), "n={n}");
    }
    assert!(CompactRange::from_parts(3, vec![[0; 32]]).is_none());
    let back = CompactRange::from_parts(c.size(), c.hashes().to_vec()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn inclusion_proofs_generated_verified_and_left_siblings() {
    let d = leaves(40);
    for n in 1..=40u64 {
        let root = mth(&d[..n as usize]);
        for m in 0..n {
            let want = path(m as usize, &d[..n as usize]);
            let got = inclusion_proof(m, n, &mut source(&d)).unwrap();
            assert_eq!(got, want, "m={m} n={n}");
            let left = verify_inclusion(&d[m as usize], m, n, &got, &root).unwrap();
            // The left siblings are the compact range of [0, m), reversed.
            let mut c = CompactRange::new();
            for l in &d[..m as usize] {
                c.push(*l);
            }
            let mut rev = c.hashes().to_vec();
            rev.reverse();
            assert_eq!(left, rev, "m={m} n={n}");
            // A wrong leaf, index or root fails.
            assert!(verify_inclusion(&d[(m as usize + 1) % 40], m, n, &got, &root).is_none());
            assert!(verify_inclusion(&d[m as usize], m, n, &got, &[7; 32]).is_none());
            assert!(verify_inclusion(&d[m as usize], n, n, &got, &root).is_none());
        }
    }
}

#[test]
fn consistency_proofs_generated_and_verified() {
    let d = leaves(40);
    for n in 1..=40u64 {
        let new = mth(&d[..n as usize]);
        for m in 1..n {
            let old = mth(&d[..m as usize]);
            let want = subproof(m as usize, &d[..n as usize], true);
            let got = consistency_proof(m, n, &mut source(&d)).unwrap();
            assert_eq!(got, want, "m={m} n={n}");
            assert!(verify_consistency(m, &old, n, &new, &got), "m={m} n={n}");
            // A forked old tree, a wrong new root or a damaged proof fails.
            assert!(!verify_consistency(m, &[9; 32], n, &new, &got));
            assert!(!verify_consistency(m, &old, n, &[9; 32], &got));
            for i in 0..got.len() {
                let mut bad = got.clone();
                bad[i][0] ^= 1;
                assert!(
                    !verify_consistency(m, &old, n, &new, &bad),
                    "m={m} n={n} i={i}"
                );
            }
            assert!(!verify_consistency(
                m,
                &old,
                n,
                &new,
                &got[..got.len().saturating_sub(1)]
            ));
        }
    }
    let r = mth(&d[..5]);
    assert!(verify_consistency(5, &r, 5, &r, &[]));
    assert!(!verify_consistency(6, &r, 5, &r, &[]));
    assert!(verify_consistency(0, &empty_root(), 5, &r, &[]));
}
