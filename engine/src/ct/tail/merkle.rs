//! Merkle trees as CT logs build them (RFC 6962 §2.1, RFC 9162 §2.1): leaf
//! and node hashes, the compact range ("collapsed tree") of a tree's first
//! entries, proof verification (inclusion and consistency, the RFC 9162
//! algorithms), and proof *generation* from a source of perfect-subtree
//! hashes (what a tiled log's hash tiles give). Pure.

use ring::digest::{digest, SHA256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

fn sha(parts: &[&[u8]]) -> Hash {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, &v).as_ref());
    h
}

/// The hash of a leaf: SHA-256(0x00 ‖ leaf), `leaf` a `MerkleTreeLeaf`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    sha(&[&[0], leaf])
}

/// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha(&[&[1], left, right])
}

/// The root of an empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    sha(&[])
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    let p = n.checked_next_power_of_two().unwrap_or(1 << 63);
    if p == n {
        n / 2
    } else {
        p / 2
    }
}

/// The root of `leaves` (leaf hashes), by the RFC 6962 definition.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len() as u64) as usize;
            let (l, r) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root_of(l), &root_of(r))
        }
    }
}

/// The hashes of the perfect subtrees covering the entries `[0, size)`,
/// largest first: enough to append leaves and compute each later root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The compact range of an empty tree.
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// A compact range from its parts; `None` unless there is one hash per
    /// set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<CompactRange> {
        (hashes.len() == size.count_ones() as usize).then_some(CompactRange { size, hashes })
    }

    /// The number of entries covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree hashes, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.hashes.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break,
            }
            s >>= 1;
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The root of the tree of `size` entries.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |r, left| node_hash(left, &r))
    }
}

/// After a left sibling on the right edge: up while the node is a left
/// child (RFC 9162's "right-shift until LSB(fn) is set or fn is 0").
fn climb(f: &mut u64, s: &mut u64) {
    while *f & 1 == 0 && *f != 0 {
        *f >>= 1;
        *s >>= 1;
    }
}

/// Splits concatenated 32-byte hashes; `None` unless the length fits.
pub fn split_hashes(bytes: &[u8]) -> Option<Vec<Hash>> {
    if bytes.len() % 32 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect(),
    )
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2) of the leaf hash `leaf`
/// at `index` in the tree of `size` entries with root `root`. Returns the
/// proof's left siblings, smallest first (the compact range of
/// `[0, index)` in reverse), or `None` when the proof does not verify.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    let mut left = Vec::new();
    for p in proof {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            left.push(*p);
            climb(&mut f, &mut s);
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0 && r == *root).then_some(left)
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2) between the tree of
/// `m` entries with root `old` and the tree of `n` entries with root `new`.
pub fn verify_consistency(m: u64, old: &Hash, n: u64, new: &Hash, proof: &[Hash]) -> bool {
    if m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old == new;
    }
    if m == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*old);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            climb(&mut f, &mut s);
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old && sr == *new && s == 0
}

/// The perfect subtree of `2^level` entries starting at `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subtree {
    /// Height: the subtree covers `2^level` entries.
    pub level: u8,
    /// Position among the subtrees of that height.
    pub index: u64,
}

/// The hash of the entries `[lo, hi)` of a tree, where the range is one a
/// Merkle tree has as a node (`lo` aligned to the largest power of two
/// below `hi - lo`), from the hashes of perfect subtrees.
pub fn range_hash<E>(
    lo: u64,
    hi: u64,
    sub: &mut dyn FnMut(Subtree) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let n = hi.saturating_sub(lo);
    if n.is_power_of_two() {
        let level = n.trailing_zeros() as u8;
        return sub(Subtree {
            level,
            index: lo >> level,
        });
    }
    if n == 0 {
        return Ok(empty_root());
    }
    let k = split(n);
    let l = range_hash(lo, lo + k, sub)?;
    let r = range_hash(lo + k, hi, sub)?;
    Ok(node_hash(&l, &r))
}

/// The inclusion proof (RFC 6962 §2.1.1 `PATH`) of entry `index` in the
/// tree of `size` entries, from perfect-subtree hashes.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    sub: &mut dyn FnMut(Subtree) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    let mut stack = Vec::new();
    while hi - lo > 1 && index < hi {
        let k = split(hi - lo);
        if index < lo + k {
            stack.push((lo + k, hi));
            hi = lo + k;
        } else {
            stack.push((lo, lo + k));
            lo += k;
        }
    }
    while let Some((a, b)) = stack.pop() {
        out.push(range_hash(a, b, sub)?);
    }
    Ok(out)
}

/// The consistency proof (RFC 6962 §2.1.2 `PROOF`) between the trees of
/// `m` and `n` entries (0 < m < n), from perfect-subtree hashes.
pub fn consistency_proof<E>(
    m: u64,
    n: u64,
    sub: &mut dyn FnMut(Subtree) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut stack = Vec::new();
    let (mut lo, mut hi, mut whole) = (0u64, n, true);
    if m == 0 || m >= n {
        return Ok(Vec::new());
    }
    let mut last = None;
    loop {
        if m == hi {
            if !whole {
                last = Some((lo, hi));
            }
            break;
        }
        let k = split(hi - lo);
        if m <= lo + k {
            stack.push((lo + k, hi));
            hi = lo + k;
        } else {
            stack.push((lo, lo + k));
            lo += k;
            whole = false;
        }
    }
    let mut out = Vec::new();
    if let Some((a, b)) = last {
        out.push(range_hash(a, b, sub)?);
    }
    while let Some((a, b)) = stack.pop() {
        out.push(range_hash(a, b, sub)?);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
