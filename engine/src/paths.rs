//! Where certwatch keeps its files, and keeping them private.
//!
//! Precedence: `--db FILE` (the database alone) > `CERTWATCH_HOME=DIR` (config,
//! database, log-list cache and socket all inside DIR) > the platform
//! directories (`~/.local/share/certwatch`, `~/.config/certwatch`,
//! `$XDG_RUNTIME_DIR/certwatch`). Directories certwatch creates are 0700,
//! files 0600; a loosened mode is tightened again on open. The one exception
//! is a file the user names to be shared, [`write_shared_atomic`] (0644: the
//! daemon's `metrics_textfile`, for node_exporter).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::probe::proxy::Env;

/// The resolved locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Data directory (database, caches).
    pub data_dir: PathBuf,
    /// Config directory (`config.toml`).
    pub config_dir: PathBuf,
    /// The history database.
    pub db: PathBuf,
    /// Directory for the daemon's socket.
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// Resolves paths from the environment; `db` overrides the database file.
    pub fn resolve(env: &dyn Env, db: Option<PathBuf>) -> io::Result<Paths> {
        let (data_dir, config_dir, runtime_dir) = match env.var("CERTWATCH_HOME") {
            Some(home) => {
                let h = PathBuf::from(home);
                (h.clone(), h.clone(), h)
            }
            None => {
                let dirs = directories::ProjectDirs::from("org", "certwatch", "certwatch")
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            "no home directory: set CERTWATCH_HOME or pass --db",
                        )
                    })?;
                let data = dirs.data_dir().to_path_buf();
                let runtime = dirs
                    .runtime_dir()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| data.clone());
                (data, dirs.config_dir().to_path_buf(), runtime)
            }
        };
        let db = db.unwrap_or_else(|| data_dir.join("certwatch.db"));
        Ok(Paths {
            data_dir,
            config_dir,
            db,
            runtime_dir,
        })
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
}

/// Creates `dir` (and parents) if missing; the last component gets mode 0700.
/// An existing directory that certwatch owns is tightened to 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    tighten(dir, 0o700)
}

/// Creates a new file (never an existing one) for writing, mode 0600.
fn create_private(file: &Path) -> io::Result<fs::File> {
    create_new(file, 0o600)
}

/// Creates a new file (never an existing one) for writing with `mode`
/// (less the umask).
fn create_new(file: &Path, mode: u32) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o.open(file)
}

/// Creates `file` with mode 0600 if missing; tightens an existing one to 0600.
pub fn ensure_private_file(file: &Path) -> io::Result<()> {
    if !file.exists() {
        match create_private(file) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    tighten(file, 0o600)
}

/// Replaces `path` with `bytes` atomically and privately: a 0600 temp file
/// beside it (`NAME.tmp`, a stale one removed first), fsync, rename over
/// `path`, then [`tighten`] to 0600. Readers see the old file or the new
/// one, never a part; on error the temp file is removed and `path` is left
/// as it was.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, 0o600)?;
    tighten(path, 0o600)
}

/// Replaces `path` with `bytes` atomically like [`write_private_atomic`],
/// but readable by everyone: mode exactly 0644, whatever the umask. Only
/// for a file the user named to be shared (the daemon's
/// `metrics_textfile`, read by node_exporter's own user); the directory
/// is the user's and left as it is.
pub fn write_shared_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, 0o644)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// A temp file `NAME.tmp` beside `path` (a stale one removed first) made
/// with `mode`, written, fsynced and renamed over `path`.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write as _;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        )
    })?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = fs::remove_file(&tmp);
    let written = create_new(&tmp, mode).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Sets `mode` on `path` if its group/other bits are looser.
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path)?;
        let cur = meta.permissions().mode() & 0o777;
        if cur & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_private_atomic_replaces_privately() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        ensure_private_dir(&sub).unwrap();
        let file = sub.join("x.json");
        // A stale temp file from an interrupted write does not get in the way.
        fs::write(sub.join("x.json.tmp"), b"stale").unwrap();
        write_private_atomic(&file, b"one").unwrap();
        write_private_atomic(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert!(!sub.join("x.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&sub), 0o700);
            assert_eq!(mode(&file), 0o600);
        }
        // No parent directory: an error, nothing written.
        let missing = dir.path().join("nope/x.json");
        assert!(write_private_atomic(&missing, b"x").is_err());
        assert!(!missing.exists());
    }

    #[test]
    fn write_shared_atomic_is_0644() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.prom");
        write_private_atomic(&file, b"old").unwrap();
        write_shared_atomic(&file, b"new").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        assert!(!dir.path().join("m.prom.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        assert!(write_shared_atomic(&dir.path().join("nope/m.prom"), b"x").is_err());
    }
}
