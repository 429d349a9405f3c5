//! The log-list cache in the data dir (`ct/log_list.json` + `.sig`) and
//! choosing the lists a command uses: configured files, else the cached
//! list or the built-in one ([`super::builtin`]), whichever is newer.

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

/// The lists chosen by [`load`].
#[derive(Debug, Default)]
pub struct InUse {
    /// The list to judge with (none: checks carry no CT evidence).
    pub list: Option<LogList>,
    /// A cached list that could not be used (one line, for the front end).
    pub warning: Option<String>,
}

/// When the cached list was installed (its file's mtime, Unix seconds).
pub fn cached_at(data_dir: &Path) -> Option<i64> {
    mtime(&cache_path(data_dir))
}

fn mtime(path: &Path) -> Option<i64> {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// The lists to use: `files` when given (an unusable one is an error);
/// else the cached list (`certwatch ct update`, the daemon's refresh) or,
/// when `builtin`, the built-in list — whichever is newer (a cached list
/// without a `log_list_timestamp` is dated by its file). A cached list that
/// cannot be read is a warning, and the built-in list is used instead.
pub fn load(files: &[PathBuf], data_dir: &Path, builtin: bool) -> Result<InUse, ListError> {
    if !files.is_empty() {
        return load_files(files).map(|l| InUse {
            list: Some(l),
            warning: None,
        });
    }
    let path = cache_path(data_dir);
    let (cached, warning) = if path.exists() {
        match load_files(std::slice::from_ref(&path)) {
            Ok(mut l) => {
                l.timestamp = l.timestamp.or_else(|| mtime(&path));
                (Some(l), None)
            }
            Err(e) => (None, Some(format!("ignoring the cached CT log list: {e}"))),
        }
    } else {
        (None, None)
    };
    let shipped = if builtin {
        match super::builtin::list() {
            Ok(l) => Some(l),
            // Covered by a unit test; never expected in a release.
            Err(e) => return Err(ListError(format!("the built-in CT log list: {e}"))),
        }
    } else {
        None
    };
    let list = match (cached, shipped) {
        (Some(c), Some(b)) if b.timestamp > c.timestamp => Some(b),
        (Some(c), _) => Some(c),
        (None, b) => b,
    };
    Ok(InUse { list, warning })
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
    match mtime(&cache_path(data_dir)) {
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
        assert!(load(&[], dir.path(), false)
            .unwrap()
            .list
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_newer_of_cache_and_builtin_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let sources = |builtin| {
            load(&[], dir.path(), builtin)
                .unwrap()
                .list
                .map(|l| l.sources.join(","))
        };
        // Fresh install: the built-in list, unless the built-in roots are replaced.
        assert_eq!(sources(true), Some(super::super::builtin::source_name()));
        assert_eq!(sources(false), None);
        // An older cached list (v80.14 is dated 2026-01-02) loses to the built-in one.
        std::fs::create_dir_all(dir.path().join("ct")).unwrap();
        let old = r#"{"version":"1","log_list_timestamp":"2026-01-02T12:57:01Z","operators":[]}"#;
        std::fs::write(cache_path(dir.path()), old).unwrap();
        assert_eq!(sources(true), Some(super::super::builtin::source_name()));
        assert!(sources(false).unwrap().contains("log_list.json"));
        // A newer one wins.
        let new = r#"{"version":"2","log_list_timestamp":"2026-11-30T00:00:00Z","operators":[]}"#;
        std::fs::write(cache_path(dir.path()), new).unwrap();
        assert!(sources(true).unwrap().contains("log_list.json"));
        // A corrupt cache: a warning, and the built-in list.
        std::fs::write(cache_path(dir.path()), "{").unwrap();
        let got = load(&[], dir.path(), true).unwrap();
        assert!(got
            .warning
            .unwrap()
            .contains("ignoring the cached CT log list"));
        assert_eq!(
            got.list.unwrap().sources,
            [super::super::builtin::source_name()]
        );
        // Configured files replace both; a bad one is an error.
        assert!(load(&[dir.path().join("missing.json")], dir.path(), true).is_err());
    }
}
