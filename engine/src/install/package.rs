//! The browser extension's packages, built from files embedded at compile
//! time, so an installed `certwatch` can package without a source tree.
//!
//! Pure. [`FILES`] is the extension (`extension-host/webextension/`, an
//! explicit list checked against the directory by a test), [`packages`]
//! gives `certwatch-<version>.xpi` (Firefox) and
//! `certwatch-<version>-chromium.zip`, written by [`super::zip`]: same
//! bytes on every run and machine.
//!
//! The Chromium package is the source as it is (MV3; its `key` fixes the
//! extension id the host manifest allows). The Firefox package carries a
//! Manifest V2 form of the same manifest ([`firefox_manifest`]): Firefox
//! grants an MV2 add-on's `<all_urls>` with its install, also when the
//! add-on is installed from the profile's `extensions/` folder
//! (`certwatch extension install --permanent`), where no install prompt
//! runs. The scripts are the same (`api.action ?? api.browserAction`).

use serde_json::{Map, Value};

use super::zip::{self, ZipError};

/// The extension's files, by path inside the package, sorted by path.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "background.js",
        include_bytes!("../../../extension-host/webextension/background.js"),
    ),
    (
        "icons/icon128.png",
        include_bytes!("../../../extension-host/webextension/icons/icon128.png"),
    ),
    (
        "icons/icon16.png",
        include_bytes!("../../../extension-host/webextension/icons/icon16.png"),
    ),
    (
        "icons/icon32.png",
        include_bytes!("../../../extension-host/webextension/icons/icon32.png"),
    ),
    (
        "manifest.json",
        include_bytes!("../../../extension-host/webextension/manifest.json"),
    ),
    (
        "options.html",
        include_bytes!("../../../extension-host/webextension/options.html"),
    ),
    (
        "options.js",
        include_bytes!("../../../extension-host/webextension/options.js"),
    ),
    (
        "popup.css",
        include_bytes!("../../../extension-host/webextension/popup.css"),
    ),
    (
        "popup.html",
        include_bytes!("../../../extension-host/webextension/popup.html"),
    ),
    (
        "popup.js",
        include_bytes!("../../../extension-host/webextension/popup.js"),
    ),
];

/// Why the packages cannot be built (the embedded manifest is not what
/// this module expects; a test keeps it from happening).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// `manifest.json` is missing, not JSON or lacks a field.
    #[error("extension manifest.json: {0}")]
    Manifest(String),
    /// The ZIP writer refused.
    #[error(transparent)]
    Zip(#[from] ZipError),
}

/// One package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// File name (`certwatch-0.1.0.xpi`).
    pub name: String,
    /// Which browser family it is for: `firefox` or `chromium`.
    pub browser: &'static str,
    /// The archive.
    pub bytes: Vec<u8>,
}

impl Package {
    /// SHA-256 of [`Package::bytes`], lowercase hex.
    pub fn sha256_hex(&self) -> String {
        ring::digest::digest(&ring::digest::SHA256, &self.bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The embedded `manifest.json`, parsed.
pub fn source_manifest() -> Result<Value, PackageError> {
    let raw = FILES
        .iter()
        .find(|(n, _)| *n == "manifest.json")
        .map(|(_, b)| *b)
        .ok_or_else(|| PackageError::Manifest("not embedded".into()))?;
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| PackageError::Manifest(e.to_string()))?;
    if !v.is_object() {
        return Err(PackageError::Manifest("not a JSON object".into()));
    }
    Ok(v)
}

/// The extension's version (`version` in its manifest).
pub fn version() -> Result<String, PackageError> {
    source_manifest()?
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .map(str::to_string)
        .ok_or_else(|| PackageError::Manifest("no dotted-number \"version\"".into()))
}

/// The Firefox (Manifest V2) form of the MV3 manifest `mv3`:
/// `manifest_version` 2; `host_permissions` joined into `permissions`;
/// `background.scripts` only (no `service_worker`); `action` renamed
/// `browser_action`; the `extension_pages` CSP as the MV2 CSP string; no
/// `key` (Chromium's) and no `web_accessible_resources`. Everything else
/// (gecko id, options page, icons) is kept.
pub fn firefox_manifest(mv3: &Value) -> Result<Value, PackageError> {
    let bad = |what: &str| PackageError::Manifest(what.to_string());
    let mut m = mv3
        .as_object()
        .cloned()
        .ok_or_else(|| bad("not a JSON object"))?;
    m.insert("manifest_version".into(), Value::from(2));
    m.remove("key");
    m.remove("web_accessible_resources");
    let mut perms: Vec<Value> = match m.remove("permissions") {
        Some(Value::Array(a)) => a,
        None => Vec::new(),
        Some(_) => return Err(bad("\"permissions\" is not a list")),
    };
    match m.remove("host_permissions") {
        Some(Value::Array(hosts)) => {
            for h in hosts {
                if !perms.contains(&h) {
                    perms.push(h);
                }
            }
        }
        None => {}
        Some(_) => return Err(bad("\"host_permissions\" is not a list")),
    }
    m.insert("permissions".into(), Value::Array(perms));
    let scripts = m
        .get("background")
        .and_then(|b| b.get("scripts").or_else(|| b.get("service_worker")))
        .cloned()
        .ok_or_else(|| bad("no \"background\" script"))?;
    let scripts = match scripts {
        Value::String(s) => Value::Array(vec![Value::String(s)]),
        a @ Value::Array(_) => a,
        _ => return Err(bad("\"background.scripts\" is not a list")),
    };
    let mut bg = Map::new();
    bg.insert("scripts".into(), scripts);
    m.insert("background".into(), Value::Object(bg));
    if let Some(a) = m.remove("action") {
        m.insert("browser_action".into(), a);
    }
    let csp = m
        .get("content_security_policy")
        .and_then(|c| c.get("extension_pages"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad("no \"content_security_policy.extension_pages\""))?;
    m.insert("content_security_policy".into(), Value::String(csp));
    Ok(canonical(Value::Object(m)))
}

/// `v` with every object's keys inserted in sorted order, so the JSON text
/// is the same whether or not serde_json keeps insertion order.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The Firefox package's bytes (`manifest.json` first, then the other files).
pub fn xpi() -> Result<Vec<u8>, PackageError> {
    let manifest = firefox_manifest(&source_manifest()?)?;
    let mut text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| PackageError::Manifest(e.to_string()))?;
    text.push('\n');
    let mut entries: Vec<(&str, &[u8])> = vec![("manifest.json", text.as_bytes())];
    entries.extend(FILES.iter().copied().filter(|(n, _)| *n != "manifest.json"));
    Ok(zip::write(&entries)?)
}

/// The Chromium package's bytes: the source files as they are.
pub fn chromium_zip() -> Result<Vec<u8>, PackageError> {
    let mut entries: Vec<(&str, &[u8])> = FILES
        .iter()
        .copied()
        .filter(|(n, _)| *n == "manifest.json")
        .collect();
    entries.extend(FILES.iter().copied().filter(|(n, _)| *n != "manifest.json"));
    Ok(zip::write(&entries)?)
}

/// Both packages, Firefox first.
pub fn packages() -> Result<Vec<Package>, PackageError> {
    let v = version()?;
    Ok(vec![
        Package {
            name: format!("certwatch-{v}.xpi"),
            browser: "firefox",
            bytes: xpi()?,
        },
        Package {
            name: format!("certwatch-{v}-chromium.zip"),
            browser: "chromium",
            bytes: chromium_zip()?,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_sorted_and_unique() {
        let names: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn firefox_manifest_is_mv2() {
        let m = firefox_manifest(&source_manifest().unwrap()).unwrap();
        assert_eq!(m["manifest_version"], 2);
        assert!(m.get("key").is_none() && m.get("host_permissions").is_none());
        assert!(m.get("action").is_none() && m.get("web_accessible_resources").is_none());
        assert_eq!(m["background"], json!({"scripts": ["background.js"]}));
        assert_eq!(m["browser_action"]["default_popup"], "popup.html");
        let perms = m["permissions"].as_array().unwrap();
        assert!(
            perms.contains(&json!("<all_urls>")) && perms.contains(&json!("webRequestBlocking"))
        );
        assert!(m["content_security_policy"]
            .as_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(
            m["browser_specific_settings"]["gecko"]["id"],
            crate::install::browser::GECKO_ID
        );
        assert_eq!(m["options_ui"]["page"], "options.html");
    }

    #[test]
    fn firefox_manifest_rules() {
        let m = firefox_manifest(&json!({
            "manifest_version": 3,
            "permissions": ["a", "x"],
            "host_permissions": ["x", "h"],
            "background": {"service_worker": "bg.js"},
            "content_security_policy": {"extension_pages": "script-src 'self'"},
            "web_accessible_resources": [{"resources": ["p.html"]}],
        }))
        .unwrap();
        assert_eq!(m["permissions"], json!(["a", "x", "h"]));
        assert_eq!(m["background"], json!({"scripts": ["bg.js"]}));
        assert_eq!(m["content_security_policy"], "script-src 'self'");
        assert!(m.get("web_accessible_resources").is_none());
        assert!(firefox_manifest(&json!({"background": {}})).is_err());
        assert!(firefox_manifest(&json!([1])).is_err());
    }

    #[test]
    fn packages_are_stable() {
        let a = packages().unwrap();
        assert_eq!(a, packages().unwrap());
        let v = version().unwrap();
        assert_eq!(a[0].name, format!("certwatch-{v}.xpi"));
        assert_eq!(a[1].name, format!("certwatch-{v}-chromium.zip"));
    }
}
