//! The extension's manifest and its install: the public `key` gives the
//! fixed ids, nothing is exposed to web pages, and `certwatch extension
//! install/uninstall` writes and removes the host manifests (the real CLI,
//! a temp HOME).

use std::path::Path;

use base64::Engine as _;
use certwatch_engine::install::browser::{CHROMIUM_ID, GECKO_ID, HOST_NAME};
use certwatch_tests::{bin, workspace_root, TestEnv};
use serde_json::{json, Value};

#[test]
fn extension_manifest_key_gives_the_fixed_ids() {
    let path = workspace_root().join("extension-host/webextension/manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let spki = base64::engine::general_purpose::STANDARD
        .decode(m["key"].as_str().unwrap())
        .unwrap();
    let id: String = certwatch_engine::model::sha256_hex(&spki)
        .chars()
        .take(32)
        .map(|c| (b'a' + c.to_digit(16).unwrap() as u8) as char)
        .collect();
    assert_eq!(id, CHROMIUM_ID);
    assert_eq!(m["browser_specific_settings"]["gecko"]["id"], GECKO_ID);
    assert_eq!(m["manifest_version"], 3);
}

/// No page may open or frame the popup (the clickjacking hole of the
/// `?url=` era): nothing is web-accessible and extension pages refuse to be
/// framed.
#[test]
fn extension_manifest_exposes_nothing_to_pages() {
    let path = workspace_root().join("extension-host/webextension/manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(m.get("web_accessible_resources").is_none(), "{m}");
    let csp = m["content_security_policy"]["extension_pages"]
        .as_str()
        .unwrap_or("");
    assert!(csp.contains("frame-ancestors 'none'"), "CSP: {csp}");
    let popup =
        std::fs::read_to_string(workspace_root().join("extension-host/webextension/popup.js"))
            .unwrap();
    assert!(
        !popup.contains("location.search"),
        "the popup must not take its tab from its URL"
    );
}

#[test]
fn extension_install_and_uninstall() {
    let e = TestEnv::new();
    let home = e.dir.path().join("userhome");
    std::fs::create_dir_all(&home).unwrap();
    let hostbin = bin("certwatch-host");
    let run = |args: &[&str]| e.cmd().env("HOME", &home).args(args).output().unwrap();
    let out = run(&[
        "extension",
        "install",
        "--browser",
        "firefox,chromium",
        "--host-path",
        hostbin.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ff = home.join(format!(".mozilla/native-messaging-hosts/{HOST_NAME}.json"));
    let cr = home.join(format!(
        ".config/chromium/NativeMessagingHosts/{HOST_NAME}.json"
    ));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&ff).unwrap()).unwrap();
    assert_eq!(f["allowed_extensions"], json!([GECKO_ID]));
    assert_eq!(Path::new(f["path"].as_str().unwrap()), hostbin);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&cr).unwrap()).unwrap();
    assert_eq!(
        c["allowed_origins"],
        json!([format!("chrome-extension://{CHROMIUM_ID}/")])
    );
    assert!(!home.join(".config/google-chrome").exists());

    // Default host path: certwatch-host next to certwatch.
    let out = run(&["extension", "install", "--browser", "edge"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ed = home.join(format!(
        ".config/microsoft-edge/NativeMessagingHosts/{HOST_NAME}.json"
    ));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&ed).unwrap()).unwrap();
    assert_eq!(
        Path::new(v["path"].as_str().unwrap()),
        bin("certwatch").with_file_name("certwatch-host")
    );

    // A missing host binary is refused; an unknown browser too.
    let out = run(&[
        "extension",
        "install",
        "--host-path",
        "/nonexistent/certwatch-host",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let out = run(&["extension", "install", "--browser", "safari"]);
    assert_eq!(out.status.code(), Some(3));

    let out = run(&["extension", "uninstall", "--browser", "all"]);
    assert!(out.status.success());
    assert!(!ff.exists() && !cr.exists() && !ed.exists());
}
