//! Native-messaging host manifests for the browser companion.
//!
//! Pure part: [`plan`] turns (browsers, OS, home, host binary) into the list
//! of manifest files and their JSON. Edge: [`write`] and [`remove`] put them
//! on disk (directories created 0700 when missing, files 0600, written
//! atomically). `certwatch extension install` and `certwatch setup` both use
//! this module.
//!
//! Windows is not written here; the registry keys are documented in
//! `extension-host/PROTOCOL.md`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::json;

/// The native-messaging host name (also the manifest file stem).
pub const HOST_NAME: &str = "org.certwatch.host";
/// The Firefox add-on id (`browser_specific_settings.gecko.id`).
pub const GECKO_ID: &str = "certwatch@certwatch.org";
/// The Chromium extension id, fixed by the public `key` in the extension's
/// `manifest.json`: the first 32 hex digits of SHA-256(SPKI DER), 0–f → a–p.
pub const CHROMIUM_ID: &str = "nidhmbphhnpnodopclngimahlhkpiejl";
/// The host binary's file name.
pub const HOST_BINARY: &str = "certwatch-host";

/// The `allowed_origins` entry for Chromium-family browsers.
pub fn chromium_origin() -> String {
    format!("chrome-extension://{CHROMIUM_ID}/")
}

/// A supported browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Browser {
    /// Mozilla Firefox (and ESR).
    Firefox,
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Brave.
    Brave,
    /// Microsoft Edge.
    Edge,
}

impl Browser {
    /// Every supported browser.
    pub const ALL: [Browser; 5] = [
        Browser::Firefox,
        Browser::Chrome,
        Browser::Chromium,
        Browser::Brave,
        Browser::Edge,
    ];

    /// Stable lowercase name (`--browser` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Firefox => "firefox",
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Brave => "brave",
            Browser::Edge => "edge",
        }
    }

    /// Inverse of [`Browser::as_str`].
    pub fn parse(s: &str) -> Option<Browser> {
        Browser::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// Whether this is a Chromium-family browser (`allowed_origins`).
    pub fn is_chromium_family(self) -> bool {
        self != Browser::Firefox
    }
}

/// Target operating system for manifest locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and other XDG systems.
    Linux,
    /// macOS.
    MacOs,
}

impl Os {
    /// The OS this binary runs on, if manifests can be written there.
    pub fn current() -> Option<Os> {
        if cfg!(target_os = "macos") {
            Some(Os::MacOs)
        } else if cfg!(unix) {
            Some(Os::Linux)
        } else {
            None
        }
    }
}

/// One manifest file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostManifest {
    /// For which browser.
    pub browser: Browser,
    /// Absolute path of the manifest file.
    pub path: PathBuf,
    /// Its content (pretty JSON, trailing newline).
    pub json: String,
}

/// The per-user directory where `browser` looks for host manifests.
pub fn manifest_dir(browser: Browser, os: Os, home: &Path) -> PathBuf {
    let rel = match (os, browser) {
        (Os::Linux, Browser::Firefox) => ".mozilla/native-messaging-hosts",
        (Os::Linux, Browser::Chrome) => ".config/google-chrome/NativeMessagingHosts",
        (Os::Linux, Browser::Chromium) => ".config/chromium/NativeMessagingHosts",
        (Os::Linux, Browser::Brave) => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        (Os::Linux, Browser::Edge) => ".config/microsoft-edge/NativeMessagingHosts",
        (Os::MacOs, Browser::Firefox) => "Library/Application Support/Mozilla/NativeMessagingHosts",
        (Os::MacOs, Browser::Chrome) => {
            "Library/Application Support/Google/Chrome/NativeMessagingHosts"
        }
        (Os::MacOs, Browser::Chromium) => {
            "Library/Application Support/Chromium/NativeMessagingHosts"
        }
        (Os::MacOs, Browser::Brave) => {
            "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts"
        }
        (Os::MacOs, Browser::Edge) => {
            "Library/Application Support/Microsoft Edge/NativeMessagingHosts"
        }
    };
    home.join(rel)
}

/// The manifest JSON for `browser` pointing at `host_path`.
pub fn manifest_json(browser: Browser, host_path: &Path) -> String {
    let mut v = json!({
        "name": HOST_NAME,
        "description": "certwatch native host: checks the CA of the sites you visit",
        "path": host_path.to_string_lossy(),
        "type": "stdio",
    });
    if browser.is_chromium_family() {
        v["allowed_origins"] = json!([chromium_origin()]);
    } else {
        v["allowed_extensions"] = json!([GECKO_ID]);
    }
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Browsers need an absolute host path on Linux and macOS.
    #[error("host binary path must be absolute: {0}")]
    RelativeHostPath(PathBuf),
    /// Home must be absolute too.
    #[error("home directory must be absolute: {0}")]
    RelativeHome(PathBuf),
}

/// The manifests to write for `browsers` (duplicates removed, order kept).
pub fn plan(
    browsers: &[Browser],
    os: Os,
    home: &Path,
    host_path: &Path,
) -> Result<Vec<HostManifest>, PlanError> {
    if !host_path.is_absolute() {
        return Err(PlanError::RelativeHostPath(host_path.to_path_buf()));
    }
    if !home.is_absolute() {
        return Err(PlanError::RelativeHome(home.to_path_buf()));
    }
    let mut out: Vec<HostManifest> = Vec::new();
    for &b in browsers {
        if out.iter().any(|m| m.browser == b) {
            continue;
        }
        out.push(HostManifest {
            browser: b,
            path: manifest_dir(b, os, home).join(format!("{HOST_NAME}.json")),
            json: manifest_json(b, host_path),
        });
    }
    Ok(out)
}

/// Writes the manifests. Missing directories are created 0700; existing
/// ones are left as they are (they belong to the browser).
pub fn write(manifests: &[HostManifest]) -> io::Result<()> {
    for m in manifests {
        let what = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", m.path.display()));
        let dir = m.path.parent().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: no parent directory", m.path.display()),
            )
        })?;
        if !dir.exists() {
            crate::paths::ensure_private_dir(dir).map_err(what)?;
        }
        crate::paths::write_private_atomic(&m.path, m.json.as_bytes()).map_err(what)?;
    }
    Ok(())
}

/// Removes the manifests; returns the ones that existed.
pub fn remove(manifests: &[HostManifest]) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for m in manifests {
        match fs::remove_file(&m.path) {
            Ok(()) => removed.push(m.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", m.path.display()),
                ))
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_table() {
        let home = Path::new("/home/u");
        let cases = [
            (
                Browser::Firefox,
                Os::Linux,
                "/home/u/.mozilla/native-messaging-hosts",
            ),
            (
                Browser::Chrome,
                Os::Linux,
                "/home/u/.config/google-chrome/NativeMessagingHosts",
            ),
            (
                Browser::Chromium,
                Os::Linux,
                "/home/u/.config/chromium/NativeMessagingHosts",
            ),
            (
                Browser::Brave,
                Os::Linux,
                "/home/u/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            ),
            (
                Browser::Edge,
                Os::Linux,
                "/home/u/.config/microsoft-edge/NativeMessagingHosts",
            ),
            (
                Browser::Firefox,
                Os::MacOs,
                "/home/u/Library/Application Support/Mozilla/NativeMessagingHosts",
            ),
            (
                Browser::Chrome,
                Os::MacOs,
                "/home/u/Library/Application Support/Google/Chrome/NativeMessagingHosts",
            ),
            (
                Browser::Edge,
                Os::MacOs,
                "/home/u/Library/Application Support/Microsoft Edge/NativeMessagingHosts",
            ),
        ];
        for (b, os, want) in cases {
            assert_eq!(
                manifest_dir(b, os, home),
                PathBuf::from(want),
                "{b:?} {os:?}"
            );
        }
    }

    #[test]
    fn manifest_content() {
        let host = Path::new("/opt/cw/certwatch-host");
        let f: serde_json::Value =
            serde_json::from_str(&manifest_json(Browser::Firefox, host)).unwrap();
        assert_eq!(f["name"], HOST_NAME);
        assert_eq!(f["type"], "stdio");
        assert_eq!(f["path"], "/opt/cw/certwatch-host");
        assert_eq!(f["allowed_extensions"], json!([GECKO_ID]));
        assert!(f.get("allowed_origins").is_none());
        for b in [
            Browser::Chrome,
            Browser::Chromium,
            Browser::Brave,
            Browser::Edge,
        ] {
            let c: serde_json::Value = serde_json::from_str(&manifest_json(b, host)).unwrap();
            assert_eq!(
                c["allowed_origins"],
                json!([format!("chrome-extension://{CHROMIUM_ID}/")])
            );
            assert!(c.get("allowed_extensions").is_none());
        }
    }

    #[test]
    fn plan_rules() {
        let home = Path::new("/home/u");
        let host = Path::new("/bin/certwatch-host");
        let p = plan(
            &[Browser::Chromium, Browser::Firefox, Browser::Chromium],
            Os::Linux,
            home,
            host,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].path,
            PathBuf::from("/home/u/.config/chromium/NativeMessagingHosts/org.certwatch.host.json")
        );
        assert_eq!(
            plan(
                &[Browser::Firefox],
                Os::Linux,
                home,
                Path::new("certwatch-host")
            ),
            Err(PlanError::RelativeHostPath("certwatch-host".into()))
        );
        assert!(plan(&[Browser::Firefox], Os::Linux, Path::new("rel"), host).is_err());
    }

    #[test]
    fn names_round_trip() {
        for b in Browser::ALL {
            assert_eq!(Browser::parse(b.as_str()), Some(b));
        }
        assert_eq!(Browser::parse("safari"), None);
    }

    #[test]
    fn write_and_remove() {
        let d = tempfile::tempdir().unwrap();
        let p = plan(
            &Browser::ALL,
            Os::Linux,
            d.path(),
            Path::new("/x/certwatch-host"),
        )
        .unwrap();
        write(&p).unwrap();
        write(&p).unwrap(); // idempotent
        for m in &p {
            assert_eq!(fs::read_to_string(&m.path).unwrap(), m.json);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(&m.path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
        }
        assert_eq!(remove(&p).unwrap().len(), 5);
        assert_eq!(remove(&p).unwrap().len(), 0);
    }
}
