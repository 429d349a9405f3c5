//! tlog-tiles and static-ct-api data: tile paths (`tile/<L>/<N>[.p/<W>]`,
//! `tile/data/<N>[.p/<W>]`, N in 3-digit groups `x001/x234/067`), which
//! tile holds a subtree for a tree of a given size, hash tiles, data tiles
//! of `TileLeaf`s, and bounded gzip decoding. Pure; every read is bounded
//! and malformed input is an error, never a panic.

use std::io::Read as _;

use super::merkle::{leaf_hash, split_hashes, Hash, Subtree};

/// Entries per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tile height: a tile at level L holds hashes of subtrees of 256^L entries.
pub const TILE_HEIGHT: u8 = 8;

/// `N` of a tile path: 3-digit groups, all but the last prefixed `x`.
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn with_width(base: String, width: u64) -> String {
    if width < TILE_WIDTH {
        format!("{base}.p/{width}")
    } else {
        base
    }
}

/// The path of hash tile `n` at `level`, `width` hashes wide.
pub fn hash_tile_path(level: u8, n: u64, width: u64) -> String {
    with_width(format!("tile/{level}/{}", index_path(n)), width)
}

/// The path of data tile `n`, `width` entries wide.
pub fn data_tile_path(n: u64, width: u64) -> String {
    with_width(format!("tile/data/{}", index_path(n)), width)
}

/// The width of tile `n` at `level` in a tree of `size` entries (0: none).
pub fn tile_width(level: u8, n: u64, size: u64) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    let at_level = size.checked_shr(shift).unwrap_or(0);
    at_level
        .saturating_sub(n.saturating_mul(TILE_WIDTH))
        .min(TILE_WIDTH)
}

/// Where a perfect subtree's hash comes from: the hash tile (level, index),
/// the first and the number of hashes in it to combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileSpan {
    /// Tile level.
    pub level: u8,
    /// Tile index.
    pub tile: u64,
    /// First hash within the tile.
    pub first: usize,
    /// Number of hashes (a power of two ≤ 128).
    pub count: usize,
}

/// The hashes of `sub` come from `count` hashes of one tile, combined.
pub fn span_of(sub: Subtree) -> TileSpan {
    let level = sub.level / TILE_HEIGHT;
    let r = sub.level % TILE_HEIGHT;
    let first_at_level = sub.index << r;
    TileSpan {
        level,
        tile: first_at_level / TILE_WIDTH,
        first: (first_at_level % TILE_WIDTH) as usize,
        count: 1usize << r,
    }
}

/// Splits a hash tile of `width` hashes.
pub fn parse_hash_tile(body: &[u8], width: u64) -> Result<Vec<Hash>, String> {
    if body.len() as u64 != width * 32 {
        return Err(format!(
            "{} bytes, not {width} hashes of 32 bytes",
            body.len()
        ));
    }
    split_hashes(body).ok_or_else(|| "not a list of hashes".to_string())
}

/// Decompresses a gzip body to at most `max` bytes (more is an error: a
/// gzip bomb never fills memory).
pub fn gunzip(body: &[u8], max: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad gzip: {e}"))?;
    if out.len() as u64 > max {
        return Err(format!("decompresses to more than {max} bytes"));
    }
    Ok(out)
}

/// Whether `body` starts like a gzip stream.
pub fn looks_gzipped(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

/// One entry of a data tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLeaf {
    /// The entry's timestamp, ms since the epoch.
    pub timestamp: u64,
    /// A precertificate entry.
    pub precert: bool,
    /// The certificate DER (x509 entry) or the precertificate's
    /// TBSCertificate DER (precert entry): what the log signed.
    pub signed_entry: Vec<u8>,
    /// SHA-256 of the issuer's SPKI (precert entries).
    pub issuer_key_hash: Option<Hash>,
    /// The `leaf_index` extension, when present.
    pub leaf_index: Option<u64>,
    /// The precertificate as submitted (precert entries).
    pub pre_certificate: Option<Vec<u8>>,
    /// SHA-256 fingerprints of the submitted chain, nearest issuer first.
    pub chain: Vec<Hash>,
    /// The Merkle leaf hash of the entry.
    pub hash: Hash,
}

/// A bounded reader over bytes.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, at: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    pub(crate) fn pos(&self) -> usize {
        self.at
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let s = self.b.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(s)
    }

    pub(crate) fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// A vector with an `n`-byte length prefix.
    pub(crate) fn vec(&mut self, n: usize) -> Result<&'a [u8], String> {
        let len = self.uint(n)? as usize;
        self.take(len)
    }

    /// The bytes from `from` to here.
    pub(crate) fn since(&self, from: usize) -> &'a [u8] {
        self.b.get(from..self.at).unwrap_or_default()
    }
}

/// Reads the `leaf_index` extension from `CtExtensions` contents.
pub fn leaf_index(ext: &[u8]) -> Result<Option<u64>, String> {
    let mut r = Reader::new(ext);
    let mut found = None;
    while !r.done() {
        let kind = r.uint(1)?;
        let data = r.vec(2)?;
        if kind == 0 {
            if data.len() != 5 || found.is_some() {
                return Err("bad leaf_index extension".into());
            }
            found = Some(data.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)));
        }
    }
    Ok(found)
}

/// Reads one `TileLeaf`.
fn parse_leaf(r: &mut Reader<'_>) -> Result<TileLeaf, String> {
    let start = r.pos();
    let timestamp = r.uint(8)?;
    let kind = r.uint(2)?;
    let (precert, issuer_key_hash) = match kind {
        0 => (false, None),
        1 => {
            let mut h = [0u8; 32];
            h.copy_from_slice(r.take(32)?);
            (true, Some(h))
        }
        t => return Err(format!("unknown entry type {t}")),
    };
    let signed_entry = r.vec(3)?.to_vec();
    let ext = r.vec(2)?;
    let leaf_index = leaf_index(ext)?;
    let mut merkle_leaf = vec![0u8, 0];
    merkle_leaf.extend_from_slice(r.since(start));
    let pre_certificate = if precert {
        Some(r.vec(3)?.to_vec())
    } else {
        None
    };
    let chain =
        split_hashes(r.vec(2)?).ok_or("certificate_chain is not a list of SHA-256 fingerprints")?;
    Ok(TileLeaf {
        timestamp,
        precert,
        signed_entry,
        issuer_key_hash,
        leaf_index,
        pre_certificate,
        chain,
        hash: leaf_hash(&merkle_leaf),
    })
}

/// Parses a data tile of `width` entries, the first being entry `first`.
/// Every entry with a `leaf_index` extension must carry its own index.
pub fn parse_data_tile(body: &[u8], first: u64, width: u64) -> Result<Vec<TileLeaf>, String> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    for i in 0..width {
        let idx = first + i;
        let leaf = parse_leaf(&mut r).map_err(|e| format!("entry {idx}: {e}"))?;
        if leaf.leaf_index.is_some_and(|l| l != idx) {
            return Err(format!(
                "entry {idx} carries leaf_index {:?}",
                leaf.leaf_index
            ));
        }
        out.push(leaf);
    }
    if !r.done() {
        return Err(format!("more than {width} entries"));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tile_tests.rs"]
mod tests;
