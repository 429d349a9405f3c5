//! One tail run over a [`LogSource`]: verify the new tree head against the
//! stored one, read entries within the byte budget, prove them against the
//! signed root, and keep the entries naming the chosen domains. The proof
//! is described in [`super`]; nothing is reported, and the caller saves
//! nothing, unless it holds.

use x509_parser::prelude::FromDer as _;

use super::merkle::{verify_consistency, verify_inclusion, CompactRange, Hash};
use super::{Entry, Head, LogSource, LoggedCert, TailError};
use crate::ct::watch::covers;
use crate::model::{hex, sha256_hex};

/// What a run knows of a log from the run before (the store keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The last verified tree head's size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The next entry to read (≤ `size`).
    pub next: u64,
    /// The compact range of the entries before `next`.
    pub compact: CompactRange,
}

/// What to look for and how much to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The log's name in the results.
    pub log: String,
    /// Domains to match.
    pub domains: Vec<String>,
    /// Match their subdomains too.
    pub include_subdomains: bool,
    /// First run: the index to start at (else `window` before the head).
    pub start: Option<u64>,
    /// First run: how many entries before the head to start.
    pub window: u64,
    /// Stop reading entries once this many bytes were read.
    pub max_bytes: u64,
}

/// One matching entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The entry.
    pub cert: LoggedCert,
    /// SHA-256 (hex) of the entry's certificate or precertificate.
    pub sha256: String,
    /// The DNS names (lowercase), all of them.
    pub names: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: Option<i64>,
    /// notAfter, Unix seconds.
    pub not_after: Option<i64>,
    /// The issuer DN as text (unsanitised).
    pub issuer: String,
    /// SHA-256 (hex) of the issuer's SPKI, when known.
    pub issuer_spki_sha256: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The state to save.
    pub state: State,
    /// Entries read this run.
    pub entries_read: u64,
    /// Bytes read this run.
    pub bytes: u64,
    /// The matches, in log order.
    pub matches: Vec<Found>,
    /// Stopped at the byte budget before the head.
    pub budget_hit: bool,
    /// Things that did not stop the run (an issuer that could not be had).
    pub warnings: Vec<String>,
}

fn name_matches(domain: &str, name: &str, subdomains: bool) -> bool {
    if subdomains {
        return covers(domain, name);
    }
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == d
        || n.strip_prefix("*.")
            .is_some_and(|parent| d.split_once('.').is_some_and(|(_, p)| p == parent))
}

/// The entry as a [`Found`] when its certificate parses and names one of
/// the domains.
fn matching(e: &Entry, opts: &Options) -> Option<Found> {
    let owned;
    let tbs = if e.precert {
        x509_parser::certificate::TbsCertificate::from_der(&e.signed_entry)
            .ok()?
            .1
    } else {
        owned = x509_parser::certificate::X509Certificate::from_der(&e.signed_entry)
            .ok()?
            .1;
        owned.tbs_certificate
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = tbs.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    if let Some(cn) = tbs
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
    {
        names.push(cn.to_ascii_lowercase());
    }
    names.sort();
    names.dedup();
    let hit = names.iter().any(|n| {
        opts.domains
            .iter()
            .any(|d| name_matches(d, n, opts.include_subdomains))
    });
    if !hit {
        return None;
    }
    let der = e.der.clone().unwrap_or_else(|| e.signed_entry.clone());
    Some(Found {
        sha256: sha256_hex(&der),
        cert: LoggedCert {
            log: opts.log.clone(),
            index: e.index,
            timestamp_ms: e.timestamp,
            precert: e.precert,
            der,
            chain: Vec::new(),
        },
        names,
        not_before: Some(tbs.validity().not_before.timestamp()),
        not_after: Some(tbs.validity().not_after.timestamp()),
        issuer: tbs.issuer().to_string(),
        issuer_spki_sha256: e.issuer_key_hash.map(|h| hex(&h)),
    })
}

/// Proves the new head consistent with the stored one.
fn check_consistency(src: &mut dyn LogSource, prev: &State, head: &Head) -> Result<(), TailError> {
    let (m, old, n, new) = if head.size >= prev.size {
        (prev.size, prev.root, head.size, head.root)
    } else {
        (head.size, head.root, prev.size, prev.root)
    };
    if m == n {
        return if old == new {
            Ok(())
        } else {
            Err(TailError::failed(
                "tree head",
                format!("two different roots for the tree of {n} entries: the log forked"),
            ))
        };
    }
    let proof = if m == 0 {
        Vec::new()
    } else {
        src.consistency(m, n)?
    };
    if verify_consistency(m, &old, n, &new, &proof) {
        Ok(())
    } else {
        Err(TailError::failed(
            "consistency proof",
            format!("the tree of {n} entries does not extend the verified tree of {m} entries: the log forked or rewrote its history"),
        ))
    }
}

/// One run: see the module doc. `prev` is the stored state, if any.
pub fn follow(
    src: &mut dyn LogSource,
    prev: Option<&State>,
    opts: &Options,
) -> Result<Outcome, TailError> {
    let start_bytes = src.bytes();
    let head = src.head()?;
    let (mut idx, mut compact) = match prev {
        Some(p) => {
            check_consistency(src, p, &head)?;
            if head.size < p.size {
                // An older head (a lagging mirror): consistent, nothing new.
                return Ok(Outcome {
                    state: p.clone(),
                    entries_read: 0,
                    bytes: src.bytes() - start_bytes,
                    matches: Vec::new(),
                    budget_hit: false,
                    warnings: Vec::new(),
                });
            }
            (p.next, Some(p.compact.clone()))
        }
        None => {
            // At least one entry is read, whose inclusion proof gives the
            // compact range of the entries before it.
            let s = opts
                .start
                .unwrap_or_else(|| head.size.saturating_sub(opts.window))
                .min(head.size.saturating_sub(1));
            (s, (s == 0).then(CompactRange::new))
        }
    };
    let mut before_last: Option<CompactRange> = None;
    let mut batches: Vec<(String, u64, Vec<Hash>)> = Vec::new();
    let mut pending = Vec::new();
    let mut entries_read = 0u64;
    let mut budget_hit = false;
    while idx < head.size {
        // Every run reads at least one response: a budget smaller than the
        // tree head still makes progress.
        if entries_read > 0 && src.bytes() - start_bytes >= opts.max_bytes {
            budget_hit = true;
            break;
        }
        let batch = src.batch(idx, head.size)?;
        let n = batch.entries.len() as u64;
        if n == 0 || n > head.size - idx {
            return Err(TailError::bad(
                &batch.url,
                format!("{n} entries from index {idx} in a tree of {}", head.size),
            ));
        }
        for e in &batch.entries {
            if e.index != idx {
                return Err(TailError::bad(
                    &batch.url,
                    format!("entry {} out of order", e.index),
                ));
            }
            let c = match compact.as_mut() {
                Some(c) => c,
                None => {
                    let proof = src.inclusion(idx, &e.hash, head.size)?;
                    let left = verify_inclusion(&e.hash, idx, head.size, &proof, &head.root)
                        .ok_or_else(|| {
                            TailError::failed(
                                &batch.url,
                                format!(
                                    "entry {idx} is not in the signed tree of {} entries",
                                    head.size
                                ),
                            )
                        })?;
                    let hashes = left.into_iter().rev().collect();
                    let c = CompactRange::from_parts(idx, hashes).ok_or_else(|| {
                        TailError::failed(
                            &batch.url,
                            format!("the inclusion proof of entry {idx} has the wrong shape"),
                        )
                    })?;
                    compact.insert(c)
                }
            };
            before_last = Some(c.clone());
            c.push(e.hash);
            if let Some(f) = matching(e, opts) {
                pending.push((f, e.clone()));
            }
            idx += 1;
        }
        entries_read += n;
        let hashes = batch.entries.iter().map(|e| e.hash).collect();
        batches.push((batch.url, idx - n, hashes));
    }
    let compact = compact.unwrap_or_default();
    if idx == head.size {
        if compact.size() != head.size || compact.root() != head.root {
            let detail = src.locate(&batches, head.size).unwrap_or_else(|| {
                format!(
                    "the entries read do not hash to the signed root of the tree of {} entries",
                    head.size
                )
            });
            let what = batches
                .last()
                .map(|b| b.0.clone())
                .unwrap_or_else(|| "entries".into());
            return Err(TailError::failed(&what, detail));
        }
    } else if let (Some(b), Some(last)) = (before_last, batches.last()) {
        // Stopped at the budget: the last entry read must be in the signed
        // tree exactly where the compact range says.
        let i = idx - 1;
        let leaf = last.2.last().copied().unwrap_or_default();
        let proof = src.inclusion(i, &leaf, head.size)?;
        let ok = verify_inclusion(&leaf, i, head.size, &proof, &head.root)
            .is_some_and(|left| left.iter().rev().eq(b.hashes().iter()));
        if !ok {
            let detail = src.locate(&batches, head.size).unwrap_or_else(|| {
                format!(
                    "entries up to {i} are not the signed tree's (tree of {} entries)",
                    head.size
                )
            });
            return Err(TailError::failed(&last.0, detail));
        }
    }
    let mut warnings = Vec::new();
    let mut matches = Vec::new();
    for (mut f, e) in pending {
        let (chain, warning) = src.issuers(&e);
        warnings.extend(warning);
        if f.issuer_spki_sha256.is_none() {
            f.issuer_spki_sha256 = chain
                .first()
                .and_then(|d| crate::model::parse_cert(d).ok())
                .map(|c| sha256_hex(&c.spki_der));
        }
        f.cert.chain = chain;
        matches.push(f);
    }
    Ok(Outcome {
        state: State {
            size: head.size,
            root: head.root,
            next: idx,
            compact,
        },
        entries_read,
        bytes: src.bytes() - start_bytes,
        matches,
        budget_hit,
        warnings,
    })
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
