//! `ct tail`: following CT logs oneself, for chosen domains, without a
//! third party. Both RFC 6962 logs (`get-sth`, `get-sth-consistency`,
//! `get-entries`, `get-proof-by-hash`) and static-ct-api v1.1.0 (tiled)
//! logs (a signed checkpoint, hash tiles, data tiles, issuers by hash).
//!
//! Layout: pure parts — [`merkle`] (hashes, compact ranges, proofs),
//! [`checkpoint`] (the signed note), [`tile`] (tile paths, `TileLeaf`s,
//! bounded gzip), [`follow`] (the algorithm over a [`LogSource`], and the
//! matching); edges — [`http`] (byte-counted, bounded GETs through
//! [`crate::ct::fetch`]), [`tiled`] and [`rfc`] (the two APIs as
//! [`LogSource`]s). The position per log is `store::ct_tail`.
//!
//! How a run proves what it read (the same for both APIs): the stored
//! state is the last verified tree head (size, root), the next index to
//! read and the compact range of the entries before it. A new tree head
//! is verified (signature), then shown consistent with the stored one (a
//! consistency proof: the log's, or one computed from hash tiles); the
//! entries read are hashed onto the compact range, and the result must be
//! the new root (all read) or, at the byte budget, agree with an inclusion
//! proof of the last entry read. The first run starts `window` entries
//! before the head and takes the compact range from the first entry's
//! inclusion proof. Matches are reported only after that.

pub mod checkpoint;
pub mod follow;
pub mod http;
pub mod merkle;
pub mod rfc;
pub mod tile;
pub mod tiled;

use std::fmt;

pub use follow::{follow, Found, Options, Outcome, State};
pub use merkle::Hash;

/// A certificate or precertificate a log holds, as a tail run found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCert {
    /// The log (its description).
    pub log: String,
    /// The entry's index.
    pub index: u64,
    /// The entry's timestamp, ms since the epoch.
    pub timestamp_ms: u64,
    /// A precertificate entry.
    pub precert: bool,
    /// The certificate or precertificate DER (for an RFC 6962 precert
    /// entry without `extra_data`, the TBSCertificate the log signed).
    pub der: Vec<u8>,
    /// Issuer certificates (DER), nearest first, as far as known.
    pub chain: Vec<Vec<u8>>,
}

/// Why a tail run stopped. [`TailError::Failed`] means the log
/// misbehaved; the others that it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TailError {
    /// Verification failed: a bad signature, a tile or entries that do not
    /// hash to the signed root, an inconsistent tree.
    Failed {
        /// The URL or part.
        what: String,
        /// Why.
        detail: String,
    },
    /// Transport failure.
    Http {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// An HTTP error status; for 429 and 5xx, when to retry.
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Seconds to wait (the server's `Retry-After`, else a default).
        retry_in_secs: Option<u64>,
    },
    /// The answer was not what the API promises (malformed, truncated, too large).
    Bad {
        /// The URL or part.
        what: String,
        /// Why.
        detail: String,
    },
}

impl TailError {
    /// Whether the log misbehaved (rather than could not be read).
    pub fn is_failure(&self) -> bool {
        matches!(self, TailError::Failed { .. })
    }

    pub(crate) fn bad(what: &str, detail: impl Into<String>) -> TailError {
        TailError::Bad {
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn failed(what: &str, detail: impl Into<String>) -> TailError {
        TailError::Failed {
            what: what.to_string(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for TailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TailError::Failed { what, detail } => {
                write!(f, "{what}: verification failed: {detail}")
            }
            TailError::Http { url, detail } => write!(f, "{url}: {detail}"),
            TailError::Status {
                url,
                status,
                retry_in_secs: Some(s),
            } => write!(f, "{url}: HTTP {status}; retry in {s} s"),
            TailError::Status { url, status, .. } => write!(f, "{url}: HTTP {status}"),
            TailError::Bad { what, detail } => write!(f, "{what}: unexpected answer: {detail}"),
        }
    }
}

impl std::error::Error for TailError {}

/// A verified tree head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of entries.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// When the log signed it, ms since the epoch.
    pub timestamp: u64,
}

/// One log entry as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index in the log.
    pub index: u64,
    /// Timestamp, ms since the epoch.
    pub timestamp: u64,
    /// A precertificate entry.
    pub precert: bool,
    /// What the log signed: the certificate, or the precert's TBSCertificate.
    pub signed_entry: Vec<u8>,
    /// The certificate or precertificate as submitted, when known.
    pub der: Option<Vec<u8>>,
    /// SHA-256 of the issuer's SPKI (precert entries).
    pub issuer_key_hash: Option<Hash>,
    /// The chain's fingerprints (tiled logs).
    pub chain_fingerprints: Vec<Hash>,
    /// The chain's certificates (RFC 6962 `extra_data`).
    pub chain: Vec<Vec<u8>>,
    /// Merkle leaf hash.
    pub hash: Hash,
}

/// Consecutive entries from one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Where they came from (URL).
    pub url: String,
    /// The entries, the first at the index asked for.
    pub entries: Vec<Entry>,
}

/// A log as [`follow`] reads it. Every method counts the bytes it reads.
pub trait LogSource {
    /// The log's latest tree head, its signature verified.
    fn head(&mut self) -> Result<Head, TailError>;
    /// A consistency proof between the trees of `m` and `n` entries.
    fn consistency(&mut self, m: u64, n: u64) -> Result<Vec<Hash>, TailError>;
    /// An inclusion proof of the entry `index` (leaf hash `leaf`) in the
    /// tree of `size` entries.
    fn inclusion(&mut self, index: u64, leaf: &Hash, size: u64) -> Result<Vec<Hash>, TailError>;
    /// Entries from `start` on (at least one) in the tree of `size` entries.
    fn batch(&mut self, start: u64, size: u64) -> Result<Batch, TailError>;
    /// After the entries read did not hash to the root: which response
    /// was wrong, when the source can tell.
    fn locate(&mut self, _batches: &[(String, u64, Vec<Hash>)], _size: u64) -> Option<String> {
        None
    }
    /// The issuer certificates of a matching entry, nearest first, and a
    /// warning when some could not be had.
    fn issuers(&mut self, entry: &Entry) -> (Vec<Vec<u8>>, Option<String>);
    /// Bytes read so far.
    fn bytes(&self) -> u64;
}
