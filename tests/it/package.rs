//! `certwatch extension package` and `certwatch extension install
//! --permanent`, driven through the shipped `certwatch` binary: the packages
//! are the same bytes on every run (whatever the umask, locale, time zone or
//! working directory: the files are embedded), their contents are read back
//! with Python's `zipfile` (an independent reader), and the permanent
//! Firefox install writes, keeps and undoes exactly its own files and lines.
//! Also the `profiles.ini` default-profile rule, as a table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use certwatch_engine::install::browser::GECKO_ID;
use certwatch_engine::install::firefox::{self, default_profile, ProfileError, BEGIN, PREFS};
use certwatch_engine::install::package::{self, FILES};
use certwatch_tests::{bin, code, stderr, stdout, workspace_root, TestEnv};
use serde_json::Value;

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ext_dir() -> PathBuf {
    workspace_root().join("extension-host/webextension")
}

/// Every file below `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap();
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn embedded_files_are_the_extension_directory() {
    let mut on_disk = Vec::new();
    walk(&ext_dir(), &ext_dir(), &mut on_disk);
    on_disk.sort();
    let embedded: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_string()).collect();
    assert_eq!(
        embedded, on_disk,
        "engine/src/install/package.rs FILES must list exactly extension-host/webextension/"
    );
    for (name, bytes) in FILES {
        assert_eq!(
            std::fs::read(ext_dir().join(name)).unwrap(),
            *bytes,
            "{name} (rebuild)"
        );
    }
}

/// `certwatch extension package --out DIR` under a shell that sets `umask`,
/// run from `cwd`, with `env` added.
fn package_with(e: &TestEnv, out: &Path, umask: &str, cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(bin("certwatch"))
        .args(["extension", "package", "--out"])
        .arg(out)
        .current_dir(cwd)
        .env("CERTWATCH_HOME", e.home());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn packages_are_reproducible() {
    let e = TestEnv::new();
    let v = package::version().unwrap();
    let names = [
        format!("certwatch-{v}.xpi"),
        format!("certwatch-{v}-chromium.zip"),
    ];
    let a = e.path("a");
    let b = e.path("b/nested");
    let elsewhere = e.path("cwd");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let o1 = package_with(&e, &a, "022", &workspace_root(), &[]);
    assert_eq!(code(&o1), 0, "{}", stderr(&o1));
    // Another umask, locale, time zone and working directory (no source tree).
    let env = [
        ("LC_ALL", "C"),
        ("LANG", "de_DE.UTF-8"),
        ("TZ", "Pacific/Kiritimati"),
        ("SOURCE_DATE_EPOCH", "1"),
    ];
    let o2 = package_with(&e, &b, "000", &elsewhere, &env);
    assert_eq!(code(&o2), 0, "{}", stderr(&o2));
    for n in &names {
        let (x, y) = (a.join(n), b.join(n));
        assert_eq!(
            std::fs::read(&x).unwrap(),
            std::fs::read(&y).unwrap(),
            "{n}"
        );
        assert_eq!((mode(&x), mode(&y)), (0o600, 0o600), "{n}");
        assert!(
            stdout(&o1).contains(&x.display().to_string()),
            "{}",
            stdout(&o1)
        );
    }
    assert_eq!((mode(&a), mode(&b)), (0o700, 0o700));
    // The same bytes as the library builds (what `install --permanent` writes).
    assert_eq!(
        std::fs::read(a.join(&names[0])).unwrap(),
        package::xpi().unwrap()
    );
    // --out naming a file is refused in one line.
    let f = e.write("file", "x");
    let o = e.run(&["extension", "package", "--out", f.to_str().unwrap()]);
    assert_eq!(code(&o), 3);
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}

/// Python's zipfile reads `zip`: CRCs checked, then a JSON summary.
fn read_zip(zip: &Path) -> Option<Value> {
    let script = r#"
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(json.dumps({
    "bad": bad,
    "names": z.namelist(),
    "dates": sorted({str(i.date_time) for i in z.infolist()}),
    "attrs": sorted({i.external_attr >> 16 for i in z.infolist()}),
    "methods": sorted({i.compress_type for i in z.infolist()}),
    "manifest": z.read("manifest.json").decode(),
}))
"#;
    let out = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(zip)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: python3 not runnable: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn package_contents_read_back() {
    let e = TestEnv::new();
    let out = e.path("pkg");
    let o = e.run(&["extension", "package", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = package::version().unwrap();
    let mut want: Vec<String> = vec!["manifest.json".into()];
    want.extend(
        FILES
            .iter()
            .map(|(n, _)| (*n).to_string())
            .filter(|n| n != "manifest.json"),
    );
    for name in [
        format!("certwatch-{v}.xpi"),
        format!("certwatch-{v}-chromium.zip"),
    ] {
        let Some(z) = read_zip(&out.join(&name)) else {
            return;
        };
        assert_eq!(z["bad"], Value::Null, "{name}: CRC");
        let names: Vec<String> = serde_json::from_value(z["names"].clone()).unwrap();
        assert_eq!(names, want, "{name}");
        assert_eq!(
            z["dates"],
            serde_json::json!(["(1980, 1, 1, 0, 0, 0)"]),
            "{name}"
        );
        assert_eq!(z["attrs"], serde_json::json!([0o100644]), "{name}");
        assert_eq!(z["methods"], serde_json::json!([0]), "{name}");
        let m: Value = serde_json::from_str(z["manifest"].as_str().unwrap()).unwrap();
        assert!(m.get("web_accessible_resources").is_none(), "{name}: {m}");
        if name.ends_with(".xpi") {
            assert_eq!(m["manifest_version"], 2);
            assert_eq!(m["browser_specific_settings"]["gecko"]["id"], GECKO_ID);
            let csp = m["content_security_policy"].as_str().unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(m["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "<all_urls>"));
            assert!(m.get("key").is_none() && m["background"].get("service_worker").is_none());
        } else {
            // Chromium gets the source manifest, byte for byte.
            let src = std::fs::read_to_string(ext_dir().join("manifest.json")).unwrap();
            assert_eq!(z["manifest"].as_str().unwrap(), src);
            let csp = m["content_security_policy"]["extension_pages"]
                .as_str()
                .unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
    }
}

#[test]
fn default_profile_table() {
    let base = Path::new("/h/.mozilla/firefox");
    let p = |s: &str| Ok(PathBuf::from(s));
    let two = "[Profile0]\nName=a\nIsRelative=1\nPath=a.default\n\n[Profile1]\nName=b\nIsRelative=1\nPath=b.default-release\n";
    let cases: Vec<(&str, String, Result<PathBuf, ProfileError>)> = vec![
        (
            "only profile",
            "[Profile0]\nName=x\nIsRelative=1\nPath=x.default\n".into(),
            p("/h/.mozilla/firefox/x.default"),
        ),
        (
            "Default=1",
            format!("{two}Default=1\n"),
            p("/h/.mozilla/firefox/b.default-release"),
        ),
        (
            "Install wins over Default=1",
            format!("[Install4F96D1932A9F858E]\nDefault=a.default\nLocked=1\n\n{two}Default=1\n"),
            p("/h/.mozilla/firefox/a.default"),
        ),
        (
            "two installs agreeing",
            format!("[InstallA]\nDefault=a.default\n[InstallB]\nDefault=a.default\n{two}"),
            p("/h/.mozilla/firefox/a.default"),
        ),
        (
            "absolute path",
            "[Profile0]\nName=x\nIsRelative=0\nPath=/srv/ff/x\nDefault=1\n[Profile1]\nPath=y\n"
                .into(),
            p("/srv/ff/x"),
        ),
        (
            "CRLF and comments",
            "; made by hand\r\n[General]\r\nStartWithLastProfile=1\r\n[Profile0]\r\nPath = x\r\n"
                .into(),
            p("/h/.mozilla/firefox/x"),
        ),
        ("empty", String::new(), Err(ProfileError::None)),
        (
            "only [General]",
            "[General]\nVersion=2\n".into(),
            Err(ProfileError::None),
        ),
        (
            "several, no default",
            two.into(),
            Err(ProfileError::Ambiguous(vec![
                "/h/.mozilla/firefox/a.default".into(),
                "/h/.mozilla/firefox/b.default-release".into(),
            ])),
        ),
        (
            "installs disagreeing",
            format!("[InstallA]\nDefault=a.default\n[InstallB]\nDefault=b.default-release\n{two}"),
            Err(ProfileError::Ambiguous(vec![
                "/h/.mozilla/firefox/a.default".into(),
                "/h/.mozilla/firefox/b.default-release".into(),
            ])),
        ),
        (
            "garbage",
            "\u{0}\u{1}not ini\n[[[\n=\n".into(),
            Err(ProfileError::None),
        ),
    ];
    for (what, ini, want) in cases {
        assert_eq!(default_profile(&ini, base), want, "{what}");
    }
    // The error is one line naming the candidates.
    let e = default_profile(two, base).unwrap_err().to_string();
    assert!(
        !e.contains('\n') && e.contains("a.default") && e.contains("b.default-release"),
        "{e}"
    );
}

struct Ff {
    e: TestEnv,
    home: PathBuf,
    profile: PathBuf,
}

impl Ff {
    fn new() -> Ff {
        let e = TestEnv::new();
        let home = e.path("userhome");
        let profile = home.join(".mozilla/firefox/abcd1234.default-esr");
        std::fs::create_dir_all(&profile).unwrap();
        Ff { e, home, profile }
    }

    fn run(&self, args: &[&str]) -> Output {
        let host = bin("certwatch-host");
        let mut c = self.e.cmd();
        c.env("HOME", &self.home).args(args);
        if args.first() == Some(&"extension") && args.get(1) == Some(&"install") {
            c.arg("--host-path").arg(host);
        }
        c.output().unwrap()
    }

    fn ini(&self, text: &str) {
        std::fs::write(self.home.join(".mozilla/firefox/profiles.ini"), text).unwrap();
    }
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}", stderr(o));
    stdout(o)
}

fn one_line_error(o: &Output, needle: &str) {
    assert_eq!(code(o), 3, "{}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn permanent_install_and_uninstall() {
    let f = Ff::new();
    let prof = f.profile.to_str().unwrap();
    let mine = "// my settings\nuser_pref(\"browser.startup.page\", 3);\n";
    let user_js = f.profile.join("user.js");
    std::fs::write(&user_js, mine).unwrap();
    let xpi = f.profile.join(format!("extensions/{GECKO_ID}.xpi"));
    let host_manifest = f
        .home
        .join(".mozilla/native-messaging-hosts/org.certwatch.host.json");
    let args = [
        "extension",
        "install",
        "--browser",
        "firefox",
        "--permanent",
        "--profile",
        prof,
    ];

    let out = ok(&f.run(&args));
    // Says which files it wrote or changed, and how to undo it.
    for p in [&xpi, &user_js, &host_manifest] {
        assert!(out.contains(&p.display().to_string()), "{p:?} in:\n{out}");
    }
    assert!(
        out.contains("certwatch extension uninstall --browser firefox --permanent"),
        "{out}"
    );
    assert_eq!(std::fs::read(&xpi).unwrap(), package::xpi().unwrap());
    assert_eq!(
        (mode(&xpi), mode(&user_js), mode(xpi.parent().unwrap())),
        (0o600, 0o600, 0o700)
    );
    let text = std::fs::read_to_string(&user_js).unwrap();
    assert!(text.starts_with(mine), "{text}");
    for pref in PREFS {
        assert_eq!(text.matches(pref).count(), 1, "{text}");
    }
    assert!(host_manifest.is_file());

    // Idempotent: one block after a second run; the user's later lines stay.
    std::fs::write(&user_js, format!("{text}user_pref(\"later\", 1);\n")).unwrap();
    let out2 = ok(&f.run(&args));
    assert!(
        out2.contains("already has the certwatch block") || out2.contains("edited"),
        "{out2}"
    );
    let text2 = std::fs::read_to_string(&user_js).unwrap();
    assert_eq!(text2.matches(BEGIN).count(), 1, "{text2}");
    assert!(text2.contains("user_pref(\"later\", 1);"), "{text2}");
    let out3 = ok(&f.run(&args));
    assert!(out3.contains("already has the certwatch block"), "{out3}");
    assert_eq!(std::fs::read_to_string(&user_js).unwrap(), text2);

    // Firefox copied the block's values into prefs.js (it does); the user
    // changed nothing there.
    let prefs_js = f.profile.join("prefs.js");
    let theirs = "// Mozilla User Preferences\nuser_pref(\"app.update.lastUpdateTime\", 1);\n";
    std::fs::write(&prefs_js, format!("{theirs}{}\n{}\n", PREFS[0], PREFS[1])).unwrap();

    // Refused while Firefox holds the profile (its lock names a live pid).
    let lock = f.profile.join("lock");
    std::os::unix::fs::symlink(format!("127.0.0.1:+{}", std::process::id()), &lock).unwrap();
    let un = [
        "extension",
        "uninstall",
        "--browser",
        "firefox",
        "--permanent",
        "--profile",
        prof,
    ];
    one_line_error(&f.run(&un), "Firefox is running");
    assert!(xpi.exists() && host_manifest.exists());
    // A stale lock (no such process) does not count.
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink("127.0.0.1:+999999999", &lock).unwrap();

    let out = ok(&f.run(&un));
    assert!(!xpi.exists() && !host_manifest.exists(), "{out}");
    assert_eq!(
        std::fs::read_to_string(&user_js).unwrap(),
        format!("{mine}user_pref(\"later\", 1);\n")
    );
    assert_eq!(std::fs::read_to_string(&prefs_js).unwrap(), theirs);
    for p in [&xpi, &user_js, &prefs_js] {
        assert!(out.contains(&p.display().to_string()), "{p:?} in:\n{out}");
    }
    // Again: nothing left to remove.
    let out = ok(&f.run(&un));
    assert!(out.contains("no certwatch add-on was installed"), "{out}");
}

#[test]
fn permanent_install_of_a_fresh_profile_and_undo() {
    // No user.js before: the install creates it, the uninstall removes it.
    let f = Ff::new();
    f.ini("[Profile0]\nName=default-esr\nIsRelative=1\nPath=abcd1234.default-esr\nDefault=1\n\n[General]\nStartWithLastProfile=1\nVersion=2\n");
    ok(&f.run(&[
        "extension",
        "install",
        "--browser",
        "firefox",
        "--permanent",
    ]));
    let user_js = f.profile.join("user.js");
    assert_eq!(std::fs::read_to_string(&user_js).unwrap(), firefox::block());
    assert!(f
        .profile
        .join(format!("extensions/{GECKO_ID}.xpi"))
        .is_file());
    ok(&f.run(&[
        "extension",
        "uninstall",
        "--browser",
        "firefox",
        "--permanent",
    ]));
    assert!(!user_js.exists());
    let left: Vec<_> = std::fs::read_dir(&f.profile)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("extensions")],
        "only the (empty) folder certwatch made"
    );
}

#[test]
fn permanent_install_bad_input() {
    let f = Ff::new();
    let perm = [
        "extension",
        "install",
        "--browser",
        "firefox",
        "--permanent",
    ];
    // No profiles.ini.
    one_line_error(&f.run(&perm), "profiles.ini");
    // Unreadable profiles.ini (a directory there).
    std::fs::create_dir_all(f.home.join(".mozilla/firefox/profiles.ini")).unwrap();
    one_line_error(&f.run(&perm), "profiles.ini");
    std::fs::remove_dir(f.home.join(".mozilla/firefox/profiles.ini")).unwrap();
    // Several profiles, no default: named.
    f.ini("[Profile0]\nIsRelative=1\nPath=one\n[Profile1]\nIsRelative=1\nPath=two\n");
    let o = f.run(&perm);
    one_line_error(&o, "several Firefox profiles");
    assert!(
        stderr(&o).contains("firefox/one") && stderr(&o).contains("firefox/two"),
        "{}",
        stderr(&o)
    );
    // The default profile's directory is missing.
    f.ini("[Profile0]\nIsRelative=1\nPath=gone\nDefault=1\n");
    one_line_error(&f.run(&perm), "does not exist");
    // --profile naming nothing.
    let mut args = perm.to_vec();
    args.extend(["--profile", "/nonexistent/profile"]);
    one_line_error(&f.run(&args), "/nonexistent/profile");
    // Not Firefox.
    one_line_error(
        &f.run(&[
            "extension",
            "install",
            "--browser",
            "chromium",
            "--permanent",
        ]),
        "--browser firefox",
    );
    // Nothing was written by any of these.
    assert!(!f.home.join(".mozilla/native-messaging-hosts").exists());
    // A user.js whose certwatch block was cut short is not guessed at.
    let prof = f.profile.to_str().unwrap();
    std::fs::write(
        f.profile.join("user.js"),
        format!("{BEGIN}\nuser_pref(\"x\", 1);\n"),
    )
    .unwrap();
    let mut args = perm.to_vec();
    args.extend(["--profile", prof]);
    one_line_error(&f.run(&args), "user.js: line 1: certwatch block without");
    assert!(!f.home.join(".mozilla/native-messaging-hosts").exists());
}
