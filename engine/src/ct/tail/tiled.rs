//! A static-ct-api (tiled) log as a [`LogSource`]: the checkpoint (its
//! signature verified with the log's key, its origin the log list's
//! submission prefix), proofs computed from hash tiles (each tile fetched
//! once per run), data tiles of `TileLeaf`s (gzip decoded whether or not
//! the server said so), and issuers by fingerprint, checked and cached in
//! a private directory.

use std::collections::HashMap;
use std::path::PathBuf;

use super::checkpoint::{self, CheckpointError, MAX_CHECKPOINT};
use super::http::Fetcher;
use super::merkle::{consistency_proof, inclusion_proof, root_of, Hash, Subtree};
use super::tile::{
    data_tile_path, gunzip, hash_tile_path, looks_gzipped, parse_data_tile, parse_hash_tile,
    span_of, tile_width, TILE_WIDTH,
};
use super::{Batch, Entry, Head, LogSource, TailError};
use crate::ct::loglist::Log;
use crate::model::{hex, sha256_hex};

/// Largest data tile body, compressed or not.
pub const MAX_DATA_TILE: u64 = 16 * 1024 * 1024;
/// Largest decompressed data tile.
pub const MAX_DATA_TILE_RAW: u64 = 16 * 1024 * 1024;
/// Largest issuer certificate.
pub const MAX_ISSUER: u64 = 64 * 1024;
/// Most issuers fetched for one entry.
const MAX_CHAIN: usize = 4;

/// A tiled log.
pub struct TiledSource {
    http: Fetcher,
    log: Log,
    origin: String,
    tiles: HashMap<(u8, u64, u64), Vec<Hash>>,
    issuers: HashMap<Hash, Vec<u8>>,
    issuer_dir: Option<PathBuf>,
}

impl TiledSource {
    /// Reads `log` (its `monitoring_url`) through `http`; issuers are
    /// cached in `issuer_dir` (0700, files 0600) when given.
    pub fn new(log: Log, http: Fetcher, issuer_dir: Option<PathBuf>) -> TiledSource {
        TiledSource {
            origin: checkpoint::origin_of(&log.url),
            http,
            log,
            tiles: HashMap::new(),
            issuers: HashMap::new(),
            issuer_dir,
        }
    }

    fn hash_tile(&mut self, level: u8, n: u64, width: u64) -> Result<Vec<Hash>, TailError> {
        if let Some(t) = self.tiles.get(&(level, n, width)) {
            return Ok(t.clone());
        }
        let path = hash_tile_path(level, n, width);
        let body = self.http.get(&path, 64 * 1024)?;
        let bytes = if body.gzip {
            gunzip(&body.bytes, 8192).map_err(|e| TailError::bad(&self.http.url(&path), e))?
        } else {
            body.bytes
        };
        let hashes =
            parse_hash_tile(&bytes, width).map_err(|e| TailError::bad(&self.http.url(&path), e))?;
        self.tiles.insert((level, n, width), hashes.clone());
        Ok(hashes)
    }

    fn subtree(&mut self, sub: Subtree, size: u64) -> Result<Hash, TailError> {
        let span = span_of(sub);
        let width = tile_width(span.level, span.tile, size);
        let hashes = self.hash_tile(span.level, span.tile, width)?;
        let part = hashes
            .get(span.first..span.first + span.count)
            .ok_or_else(|| {
                TailError::bad(
                    &self.http.url(&hash_tile_path(span.level, span.tile, width)),
                    "the tile lacks a hash the tree needs",
                )
            })?;
        Ok(root_of(part))
    }

    fn cached_issuer(&self, fp: &Hash) -> Option<Vec<u8>> {
        let p = self.issuer_dir.as_ref()?.join(hex(fp));
        let der = std::fs::read(p).ok()?;
        (sha256_hex(&der) == hex(fp)).then_some(der)
    }

    fn issuer(&mut self, fp: &Hash) -> Result<Vec<u8>, String> {
        if let Some(d) = self.issuers.get(fp) {
            return Ok(d.clone());
        }
        if let Some(d) = self.cached_issuer(fp) {
            self.issuers.insert(*fp, d.clone());
            return Ok(d);
        }
        let path = format!("issuer/{}", hex(fp));
        let der = self
            .http
            .get(&path, MAX_ISSUER)
            .map_err(|e| e.to_string())?
            .bytes;
        if sha256_hex(&der) != hex(fp) {
            return Err(format!(
                "{}: does not hash to its fingerprint",
                self.http.url(&path)
            ));
        }
        if let Some(dir) = &self.issuer_dir {
            let saved = crate::paths::ensure_private_dir(dir)
                .and_then(|()| crate::paths::write_private_atomic(&dir.join(hex(fp)), &der));
            if let Err(e) = saved {
                return Err(format!("cannot cache the issuer in {}: {e}", dir.display()));
            }
        }
        self.issuers.insert(*fp, der.clone());
        Ok(der)
    }
}

impl LogSource for TiledSource {
    fn head(&mut self) -> Result<Head, TailError> {
        let url = self.http.url("checkpoint");
        let body = self.http.get("checkpoint", MAX_CHECKPOINT)?;
        match checkpoint::verify(&body.bytes, &self.log, &self.origin) {
            Ok(c) => Ok(Head {
                size: c.size,
                root: c.root,
                timestamp: c.timestamp,
            }),
            Err(CheckpointError::Malformed(d)) => Err(TailError::bad(&url, d)),
            Err(CheckpointError::Unsigned(d)) => Err(TailError::failed(&url, d)),
        }
    }

    fn consistency(&mut self, m: u64, n: u64) -> Result<Vec<Hash>, TailError> {
        consistency_proof(m, n, &mut |s| self.subtree(s, n))
    }

    fn inclusion(&mut self, index: u64, _leaf: &Hash, size: u64) -> Result<Vec<Hash>, TailError> {
        inclusion_proof(index, size, &mut |s| self.subtree(s, size))
    }

    fn batch(&mut self, start: u64, size: u64) -> Result<Batch, TailError> {
        let n = start / TILE_WIDTH;
        let width = tile_width(0, n, size);
        let path = data_tile_path(n, width);
        let url = self.http.url(&path);
        let body = self.http.get(&path, MAX_DATA_TILE)?;
        let raw = if body.gzip || looks_gzipped(&body.bytes) {
            gunzip(&body.bytes, MAX_DATA_TILE_RAW).map_err(|e| TailError::bad(&url, e))?
        } else {
            body.bytes
        };
        let first = n * TILE_WIDTH;
        let leaves = parse_data_tile(&raw, first, width).map_err(|e| TailError::bad(&url, e))?;
        let skip = (start - first) as usize;
        let entries = leaves
            .into_iter()
            .enumerate()
            .skip(skip)
            .map(|(i, l)| Entry {
                index: first + i as u64,
                timestamp: l.timestamp,
                precert: l.precert,
                der: l
                    .pre_certificate
                    .clone()
                    .or_else(|| (!l.precert).then(|| l.signed_entry.clone())),
                signed_entry: l.signed_entry,
                issuer_key_hash: l.issuer_key_hash,
                chain_fingerprints: l.chain,
                chain: Vec::new(),
                hash: l.hash,
            })
            .collect();
        Ok(Batch { url, entries })
    }

    fn locate(&mut self, batches: &[(String, u64, Vec<Hash>)], size: u64) -> Option<String> {
        for (url, first, hashes) in batches {
            let n = first / TILE_WIDTH;
            let width = tile_width(0, n, size);
            let tile = self.hash_tile(0, n, width).ok()?;
            let skip = (first - n * TILE_WIDTH) as usize;
            for (i, (got, want)) in hashes.iter().zip(tile.iter().skip(skip)).enumerate() {
                if got != want {
                    return Some(format!(
                        "entry {} of {url} does not hash to the leaf hash in {} (the tree the checkpoint signs)",
                        first + i as u64,
                        hash_tile_path(0, n, width)
                    ));
                }
            }
        }
        None
    }

    fn issuers(&mut self, entry: &Entry) -> (Vec<Vec<u8>>, Option<String>) {
        let mut chain = Vec::new();
        for fp in entry.chain_fingerprints.iter().take(MAX_CHAIN) {
            match self.issuer(fp) {
                Ok(d) => chain.push(d),
                Err(e) => return (chain, Some(format!("entry {}: issuer: {e}", entry.index))),
            }
        }
        (chain, None)
    }

    fn bytes(&self) -> u64 {
        self.http.bytes()
    }
}
