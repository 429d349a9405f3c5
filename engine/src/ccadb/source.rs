//! The edge where the CCADB table comes from: a configured file
//! (`--ccadb`, `ccadb` in config.toml, `CERTWATCH_CCADB`), the cache that
//! `certwatch ccadb update` writes to the data dir, or the embedded
//! snapshot; and the update itself (a file or CCADB's report over HTTPS).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{compact, csv, parse_date, Table};
use crate::model::sha256_hex;

/// CCADB's public "All Certificate Records" report (all roots and
/// intermediates, every owner).
pub const DEFAULT_URL: &str =
    "https://ccadb.my.salesforce-sites.com/ccadb/AllCertificateRecordsCSVFormatv4";

/// How often the daemon refreshes the cached table.
pub const REFRESH_SECS: i64 = 7 * 86_400;

/// The cache in the data dir.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ccadb.txt")
}

/// Where the table in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The snapshot in the binary.
    Embedded,
    /// The data dir's cache (`certwatch ccadb update`).
    Cache(PathBuf),
    /// A file the user configured.
    File(PathBuf),
}

impl Origin {
    /// For people: "embedded snapshot", or the path.
    pub fn describe(&self) -> String {
        match self {
            Origin::Embedded => "the embedded snapshot".to_string(),
            Origin::Cache(p) => format!("the cache {}", p.display()),
            Origin::File(p) => p.display().to_string(),
        }
    }
}

/// A table built from bytes, with the rows it skipped (`FILE:LINE: why`).
#[derive(Debug)]
pub struct Built {
    /// The table.
    pub table: Table,
    /// One line per skipped row.
    pub skipped: Vec<String>,
}

/// Builds a table from CCADB CSV or compact bytes. `label` names the input
/// in errors and becomes the table's source; `date` overrides the data's
/// date (else the newest date the CSV mentions). Records without a key get
/// it from `keys` (an SPKI is a fact of a fingerprint, so a report without
/// key columns loses nothing the previous table knew).
pub fn build(
    label: &str,
    bytes: &[u8],
    date: Option<i64>,
    keys: Option<&Table>,
) -> Result<Built, String> {
    if bytes.len() > csv::MAX_CSV_BYTES {
        return Err(format!(
            "{label}: larger than {} MiB, not a CCADB report",
            csv::MAX_CSV_BYTES >> 20
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{label}: not UTF-8 text ({e})"))?;
    if compact::is_compact(text) {
        return Ok(Built {
            table: compact::read(label, text)?,
            skipped: Vec::new(),
        });
    }
    let mut p = csv::read(label, text)?;
    if p.records.is_empty() {
        return Err(format!("{label}: no usable CCADB records"));
    }
    if let Some(prev) = keys {
        for r in p.records.iter_mut().filter(|r| r.spki.is_none()) {
            r.spki = prev.key_of(&r.sha256);
        }
    }
    let date = date
        .or(p.newest_date)
        .ok_or_else(|| format!("{label}: no dates in the report; give the data's date"))?;
    Ok(Built {
        table: Table::new(
            p.operators,
            p.records,
            date,
            label.to_string(),
            sha256_hex(bytes),
        ),
        skipped: p.skipped,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > csv::MAX_CSV_BYTES as u64 {
        return Err(format!(
            "{}: larger than {} MiB",
            path.display(),
            csv::MAX_CSV_BYTES >> 20
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a CCADB CSV or compact file.
pub fn load_file(path: &Path) -> Result<Built, String> {
    let bytes = read_file(path)?;
    let snapshot = Table::snapshot().ok();
    build(&path.display().to_string(), &bytes, None, snapshot.as_ref())
}

/// The table in use: the configured file (an error if it is unusable),
/// else the cache when it is at least as recent as the snapshot, else the
/// snapshot. The second value holds one-line warnings (an unusable cache).
pub fn in_use(
    configured: Option<&Path>,
    data_dir: &Path,
) -> Result<(Arc<Table>, Origin, Vec<String>), String> {
    if let Some(p) = configured {
        let built = load_file(p)?;
        return Ok((
            Arc::new(built.table),
            Origin::File(p.to_path_buf()),
            Vec::new(),
        ));
    }
    let snapshot = Table::snapshot()?;
    let cache = cache_path(data_dir);
    let mut warnings = Vec::new();
    if cache.exists() {
        match read_file(&cache).and_then(|b| {
            let text =
                String::from_utf8(b).map_err(|_| format!("{}: not UTF-8", cache.display()))?;
            compact::read(&cache.display().to_string(), &text)
        }) {
            Ok(t) if t.date >= snapshot.date => {
                return Ok((Arc::new(t), Origin::Cache(cache), warnings));
            }
            Ok(_) => {}
            Err(e) => warnings.push(format!(
                "ignoring the cached CCADB table: {e} (run `certwatch ccadb update`)"
            )),
        }
    }
    Ok((Arc::new(snapshot), Origin::Embedded, warnings))
}

/// Writes `table` to the data dir's cache (atomic, 0600).
pub fn install(data_dir: &Path, table: &Table) -> Result<PathBuf, String> {
    crate::paths::ensure_private_dir(data_dir)
        .map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let dest = cache_path(data_dir);
    crate::paths::write_private_atomic(&dest, compact::write(table).as_bytes())
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(dest)
}

/// Downloads CCADB's report from `url` (dated today).
pub fn download(url: &str, http: &crate::ct::fetch::HttpClient, now: i64) -> Result<Built, String> {
    let answer = http.get(url).map_err(|e| format!("{url}: {e}"))?;
    if !answer.is_success() {
        return Err(format!("{url}: HTTP {}", answer.status()));
    }
    let bytes = answer
        .body(csv::MAX_CSV_BYTES as u64)
        .map_err(|e| match e {
            crate::ct::fetch::BodyError::TooLarge => {
                format!("{url}: larger than {} MiB", csv::MAX_CSV_BYTES >> 20)
            }
            crate::ct::fetch::BodyError::Read(e) => format!("{url}: {e}"),
        })?;
    let snapshot = Table::snapshot().ok();
    let today = parse_date(&super::ymd(now));
    build(url, &bytes, today, snapshot.as_ref())
}

/// Whether the cache is missing or was written more than [`REFRESH_SECS`]
/// ago, so the daemon should refresh it.
pub fn is_stale(data_dir: &Path, now: i64) -> bool {
    let written = std::fs::metadata(cache_path(data_dir))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    written.is_none_or(|w| now - w >= REFRESH_SECS)
}
