//! static-ct-api checkpoints (C2SP `tlog-checkpoint` in a `signed-note`):
//! parsing the note (origin, tree size, base64 root hash, then a blank
//! line and signature lines `— <name> base64(keyID ‖ signature)`) and
//! verifying the log's RFC 6962 note signature (type 0x05) with its key
//! from the log list. Pure.
//!
//! The key ID is the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x05 ‖
//! LogID); the signature is a u64 timestamp and the TLS `DigitallySigned`
//! `TreeHeadSignature` over (version 0, tree_hash, timestamp, size, root),
//! which [`crate::ct::watch::verify_sth`] checks. Signatures under other
//! names or key IDs (witnesses, other keys) are ignored, but one must be
//! the log's. The origin line is not covered by that signature, so it must
//! equal the origin the log list implies ([`origin_of`]).

use base64::Engine as _;
use ring::digest::{digest, SHA256};

use super::merkle::Hash;
use crate::ct::loglist::Log;
use crate::ct::watch::{verify_sth, Sth};

/// The largest checkpoint accepted.
pub const MAX_CHECKPOINT: u64 = 64 * 1024;

/// A checkpoint whose signature by the log verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The origin line.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Root hash of the tree of `size` entries.
    pub root: Hash,
    /// The signed tree head's timestamp, ms since the epoch.
    pub timestamp: u64,
}

/// Why a checkpoint was refused: `Malformed` is an unexpected answer,
/// `Unsigned` a log that did not sign what it served (misbehaviour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// Not a checkpoint.
    Malformed(String),
    /// No valid signature by the log's key.
    Unsigned(String),
}

/// The checkpoint origin of a tiled log: its submission URL without the
/// scheme and without trailing slashes (static-ct-api, "Checkpoints").
pub fn origin_of(submission_url: &str) -> String {
    let s = submission_url.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_string()
}

/// The key ID of a log's RFC 6962 note signature under `name`.
pub fn key_id(name: &str, log_id: &[u8; 32]) -> [u8; 4] {
    let mut v = name.as_bytes().to_vec();
    v.extend_from_slice(&[0x0A, 0x05]);
    v.extend_from_slice(log_id);
    let d = digest(&SHA256, &v);
    let mut id = [0u8; 4];
    id.copy_from_slice(d.as_ref().get(..4).unwrap_or(&[0; 4]));
    id
}

fn malformed(s: &str) -> CheckpointError {
    CheckpointError::Malformed(s.to_string())
}

fn parse_size(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

/// Parses `text` and verifies it was signed by `log` with origin `origin`.
pub fn verify(text: &[u8], log: &Log, origin: &str) -> Result<Checkpoint, CheckpointError> {
    let text = std::str::from_utf8(text).map_err(|_| malformed("not UTF-8"))?;
    let (body, sigs) = text
        .split_once("\n\n")
        .ok_or_else(|| malformed("no blank line before the signatures"))?;
    let mut lines = body.split('\n');
    let got_origin = lines.next().unwrap_or_default();
    let size = lines
        .next()
        .and_then(parse_size)
        .ok_or_else(|| malformed("the second line is not a tree size"))?;
    let root: Hash = lines
        .next()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| malformed("the third line is not a base64 SHA-256 root hash"))?;
    if lines.next().is_some() {
        return Err(malformed(
            "extension lines are not allowed with an RFC 6962 note signature",
        ));
    }
    if got_origin.is_empty() || got_origin.chars().any(char::is_control) {
        return Err(malformed("no origin line"));
    }
    if got_origin != origin {
        return Err(CheckpointError::Unsigned(format!(
            "origin {:?} is not the log's ({origin:?})",
            crate::sanitize::sanitize(got_origin)
        )));
    }
    if !sigs.ends_with('\n') {
        return Err(malformed("the signatures do not end with a newline"));
    }
    let want_id = key_id(origin, &log.log_id);
    let mut ours = 0;
    for line in sigs.trim_end_matches('\n').split('\n').take(100) {
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| malformed("a signature line does not start with an em dash"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("a signature line has no signature"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| malformed("a signature is not base64"))?;
        let (id, sig) = raw
            .split_at_checked(4)
            .ok_or_else(|| malformed("a signature is too short"))?;
        if name != origin || id != want_id {
            continue; // Another key (a witness, another algorithm): ignored.
        }
        ours += 1;
        let (ts, ds) = sig
            .split_at_checked(8)
            .ok_or_else(|| malformed("the log's signature is too short"))?;
        let mut t = [0u8; 8];
        t.copy_from_slice(ts);
        let sth = Sth {
            tree_size: size,
            timestamp: u64::from_be_bytes(t),
            root_hash: root.to_vec(),
            signature: ds.to_vec(),
        };
        if verify_sth(&sth, log) {
            return Ok(Checkpoint {
                origin: origin.to_string(),
                size,
                root,
                timestamp: sth.timestamp,
            });
        }
    }
    Err(CheckpointError::Unsigned(if ours == 0 {
        "no signature by the log's key (only unknown keys)".to_string()
    } else {
        "the log's signature does not verify".to_string()
    }))
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
