//! The log-list cache in the data dir (`ct/log_list.json` + `.sig`) and
//! loading the lists a command should use.

use std::fs;
use std::path::{Path, PathBuf};

use super::loglist::{self, ListError, LogList};
use crate::paths::{ensure_private_dir, write_private_atomic};

/// The cached list.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ct").join("log_list.json")
}

/// The cached list's signature.
pub fn cache_sig_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ct").join("log_list.sig")
}

fn read(path: &Path) -> Result<Vec<u8>, ListError> {
    let meta = fs::metadata(path).map_err(|e| ListError(format!("{}: {e}", path.display())))?;
    if meta.len() > loglist::MAX_LIST_BYTES as u64 {
        return Err(ListError(format!(
            "{}: larger than {} bytes",
            path.display(),
            loglist::MAX_LIST_BYTES
        )));
    }
    fs::read(path).map_err(|e| ListError(format!("{}: {e}", path.display())))
}

/// Loads and merges `files` (in order; the first entry of a log wins).
pub fn load_files(files: &[PathBuf]) -> Result<LogList, ListError> {
    let mut all = LogList::default();
    for f in files {
        let bytes = read(f)?;
        all.merge(LogList::parse(&f.display().to_string(), &bytes)?);
    }
    Ok(all)
}

/// The lists to use: `files` when given, else the cache when present, else none.
pub fn load(files: &[PathBuf], data_dir: &Path) -> Result<Option<LogList>, ListError> {
    if !files.is_empty() {
        return load_files(files).map(Some);
    }
    let cached = cache_path(data_dir);
    if !cached.exists() {
        return Ok(None);
    }
    load_files(&[cached]).map(Some)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ListError> {
    let err = |e: std::io::Error| ListError(format!("{}: {e}", path.display()));
    write_private_atomic(path, bytes).map_err(err)
}

/// Verifies Google's signed list and installs it as the cache. A list that
/// fails verification is refused and the existing cache is left as it was.
pub fn install(data_dir: &Path, json: &[u8], sig: &[u8]) -> Result<LogList, ListError> {
    let list = loglist::verify_google_signed(json, sig)?;
    let dir = data_dir.join("ct");
    ensure_private_dir(&dir).map_err(|e| ListError(format!("{}: {e}", dir.display())))?;
    write_private(&cache_sig_path(data_dir), sig)?;
    write_private(&cache_path(data_dir), json)?;
    Ok(list)
}

/// Whether the cached list is missing or older than `max_age_secs` at `now`
/// (Unix seconds): the daemon refreshes it daily.
pub fn is_stale(data_dir: &Path, now: i64, max_age_secs: i64) -> bool {
    let modified = fs::metadata(cache_path(data_dir))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    match modified {
        Some(m) => now - m >= max_age_secs,
        None => true,
    }
}

/// Downloads Google's signed list, verifies it and installs it. On any error
/// the cached list is untouched, so callers keep using it (offline included).
pub fn refresh(data_dir: &Path, cfg: &super::fetch::FetchConfig) -> Result<LogList, ListError> {
    let (json, sig) = super::fetch::fetch_signed(cfg)?;
    install(data_dir, &json, &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_and_refusal_keep_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::check::unix_now();
        assert!(is_stale(dir.path(), now, 86_400));
        assert!(install(dir.path(), b"{\"operators\":[]}", &[0u8; 512]).is_err());
        assert!(!cache_path(dir.path()).exists());
        std::fs::create_dir_all(dir.path().join("ct")).unwrap();
        std::fs::write(cache_path(dir.path()), b"{\"operators\":[]}").unwrap();
        assert!(!is_stale(dir.path(), now, 86_400));
        assert!(is_stale(dir.path(), now + 86_400 + 5, 86_400));
        assert!(load(&[], dir.path()).unwrap().unwrap().is_empty());
    }
}
