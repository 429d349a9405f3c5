//! The Firefox add-on installed permanently into one profile
//! (`certwatch extension install --browser firefox --permanent`).
//!
//! Mechanism, no root needed: the package ([`super::package::xpi`]) goes to
//! `<profile>/extensions/certwatch@certwatch.org.xpi`, which Firefox installs
//! at its next start, and the profile's `user.js` gets a marked certwatch
//! block with the two preferences an unsigned add-on there needs
//! ([`PREFS`]): `xpinstall.signatures.required=false` (honoured by ESR,
//! Developer Edition and Nightly, not by release Firefox) and
//! `extensions.autoDisableScopes=14` (Firefox's default 15 installs an
//! add-on dropped into the profile disabled; 14 still disables those of
//! every other scope).
//!
//! Pure: [`default_profile`] (which profile `profiles.ini` names),
//! [`add_block`] / [`remove_block`] (`user.js` text), [`remove_prefs`]
//! (`prefs.js`, where Firefox copies `user.js` values), [`lock_pid`].
//! Edge: [`install`] and [`uninstall`] (files 0600 through
//! [`crate::paths`]), [`running`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::browser::GECKO_ID;

/// The preferences certwatch's `user.js` block sets, as `user_pref` lines.
pub const PREFS: &[&str] = &[
    r#"user_pref("xpinstall.signatures.required", false);"#,
    r#"user_pref("extensions.autoDisableScopes", 14);"#,
];

/// First line of certwatch's block in `user.js`.
pub const BEGIN: &str =
    "// BEGIN certwatch: written by `certwatch extension install --browser firefox --permanent`";
/// Last line of the block.
pub const END: &str = "// END certwatch";
const UNDO: &str =
    "// Undo with `certwatch extension uninstall --browser firefox --permanent` (removes this block).";

/// `profiles.ini` relative to the home directory (Linux, macOS).
pub fn profiles_ini(home: &Path, macos: bool) -> PathBuf {
    if macos {
        home.join("Library/Application Support/Firefox/profiles.ini")
    } else {
        home.join(".mozilla/firefox/profiles.ini")
    }
}

/// Why no single profile could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// `profiles.ini` lists no profile.
    #[error("profiles.ini lists no Firefox profile: start Firefox once, or pass --profile DIR")]
    None,
    /// Several profiles and no default among them.
    #[error("several Firefox profiles and no default: {}; pass --profile DIR", .0.join(", "))]
    Ambiguous(Vec<String>),
}

/// The sections of an INI text: (name, [(key, value)]), in order.
fn sections(ini: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in ini.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.trim().to_string(), Vec::new()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once('='), out.last_mut()) {
            last.1.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn resolve(base: &Path, path: &str, relative: bool) -> PathBuf {
    let p = Path::new(path);
    if relative || !p.is_absolute() {
        base.join(p)
    } else {
        p.to_path_buf()
    }
}

/// The profile directory `profiles.ini` (text `ini`, in directory `base`)
/// makes the default: the `Default=` of its `[Install…]` sections (when
/// they agree), else the `[Profile…]` with `Default=1`, else the only
/// profile. Several candidates and no default is an error naming them.
pub fn default_profile(ini: &str, base: &Path) -> Result<PathBuf, ProfileError> {
    let secs = sections(ini);
    let profiles: Vec<(PathBuf, bool)> = secs
        .iter()
        .filter(|(n, _)| n.starts_with("Profile"))
        .filter_map(|(_, kv)| {
            let path = get(kv, "Path")?;
            let rel = get(kv, "IsRelative") != Some("0");
            Some((resolve(base, path, rel), get(kv, "Default") == Some("1")))
        })
        .collect();
    let mut installs: Vec<PathBuf> = secs
        .iter()
        .filter(|(n, _)| n.starts_with("Install"))
        .filter_map(|(_, kv)| get(kv, "Default").map(|d| resolve(base, d, false)))
        .collect();
    installs.sort();
    installs.dedup();
    let show = |ps: &[PathBuf]| ps.iter().map(|p| p.display().to_string()).collect();
    match installs.len() {
        1 => return Ok(installs.remove(0)),
        0 => {}
        _ => return Err(ProfileError::Ambiguous(show(&installs))),
    }
    let defaults: Vec<PathBuf> = profiles
        .iter()
        .filter(|(_, d)| *d)
        .map(|(p, _)| p.clone())
        .collect();
    if defaults.len() == 1 {
        return Ok(defaults[0].clone());
    }
    match profiles.len() {
        0 => Err(ProfileError::None),
        1 => Ok(profiles[0].0.clone()),
        _ => Err(ProfileError::Ambiguous(show(
            &profiles.into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
        ))),
    }
}

/// The block certwatch writes into `user.js`.
pub fn block() -> String {
    let mut s = format!("{BEGIN}\n{UNDO}\n");
    for p in PREFS {
        s.push_str(p);
        s.push('\n');
    }
    s.push_str(END);
    s.push('\n');
    s
}

/// A `user.js` whose certwatch block does not end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {0}: certwatch block without its `{END}` line; fix the file by hand")]
pub struct UnclosedBlock(pub usize);

/// `text` without certwatch's block(s); `None` when it had none.
pub fn remove_block(text: &str) -> Result<Option<String>, UnclosedBlock> {
    let mut out = String::with_capacity(text.len());
    let mut inside: Option<usize> = None;
    let mut found = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let l = line.trim_end();
        if inside.is_none() && l.starts_with("// BEGIN certwatch") {
            inside = Some(i + 1);
            found = true;
        } else if inside.is_some() {
            if l == END {
                inside = None;
            }
        } else {
            out.push_str(line);
        }
    }
    if let Some(line) = inside {
        return Err(UnclosedBlock(line));
    }
    Ok(found.then_some(out))
}

/// `text` with exactly one certwatch block, at the end; the user's lines
/// are kept as they are.
pub fn add_block(text: &str) -> Result<String, UnclosedBlock> {
    let mut s = remove_block(text)?.unwrap_or_else(|| text.to_string());
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&block());
    Ok(s)
}

/// `prefs.js` text without the lines equal to [`PREFS`] (Firefox copies
/// `user.js` values there and keeps them); `None` when it had none. A
/// preference the user has since changed is a different line, and stays.
pub fn remove_prefs(text: &str) -> Option<String> {
    let mut found = false;
    let out: String = text
        .split_inclusive('\n')
        .filter(|l| {
            let hit = PREFS.contains(&l.trim());
            found |= hit;
            !hit
        })
        .collect();
    found.then_some(out)
}

/// The process id in the target of a profile's `lock` symlink
/// (`HOST:+PID`), which a running Firefox holds.
pub fn lock_pid(target: &str) -> Option<u32> {
    target.rsplit_once(":+")?.1.parse().ok()
}

/// Whether a Firefox process holds `profile` (its `lock` names a live pid;
/// Linux `/proc`). A stale lock from a crash does not count.
pub fn running(profile: &Path) -> bool {
    fs::read_link(profile.join("lock"))
        .ok()
        .and_then(|t| lock_pid(&t.to_string_lossy()))
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// The files of a permanent install into one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The profile directory.
    pub profile: PathBuf,
    /// `<profile>/extensions/certwatch@certwatch.org.xpi`.
    pub xpi: PathBuf,
    /// `<profile>/user.js`.
    pub user_js: PathBuf,
    /// `<profile>/prefs.js` (only edited by [`uninstall`]).
    pub prefs_js: PathBuf,
}

impl Plan {
    /// The plan for `profile`, which must exist and whose `user.js`, if
    /// any, must be readable with any certwatch block in it whole: checked
    /// here, before anything is written.
    pub fn new(profile: &Path) -> io::Result<Plan> {
        if !profile.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "Firefox profile directory {} does not exist",
                    profile.display()
                ),
            ));
        }
        let plan = Plan {
            profile: profile.to_path_buf(),
            xpi: profile.join("extensions").join(format!("{GECKO_ID}.xpi")),
            user_js: profile.join("user.js"),
            prefs_js: profile.join("prefs.js"),
        };
        if let Some(text) = read_opt(&plan.user_js)? {
            remove_block(&text).map_err(|e| invalid(&plan.user_js, &e))?;
        }
        Ok(plan)
    }
}

/// What [`install`] or [`uninstall`] did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Created or replaced.
    Wrote(PathBuf),
    /// Edited (lines added or removed, the rest kept).
    Edited(PathBuf),
    /// Already as wanted: not written.
    Unchanged(PathBuf),
    /// Deleted.
    Removed(PathBuf),
}

fn invalid(p: &Path, e: &UnclosedBlock) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
}

fn at(p: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Reads `p`; a missing file is `None`.
fn read_opt(p: &Path) -> io::Result<Option<String>> {
    match fs::read(p) {
        Ok(b) => String::from_utf8(b).map(Some).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not UTF-8", p.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(at(p)(e)),
    }
}

/// Writes the add-on and the `user.js` block (idempotent). A missing
/// `extensions/` folder is created 0700; files are written 0600.
pub fn install(plan: &Plan, xpi: &[u8]) -> io::Result<Vec<Change>> {
    let mut changes = Vec::new();
    let old = read_opt(&plan.user_js)?;
    let new = add_block(old.as_deref().unwrap_or("")).map_err(|e| invalid(&plan.user_js, &e))?;
    let dir = plan.xpi.parent().unwrap_or(&plan.profile);
    if !dir.exists() {
        crate::paths::ensure_private_dir(dir).map_err(at(dir))?;
    }
    crate::paths::write_private_atomic(&plan.xpi, xpi).map_err(at(&plan.xpi))?;
    changes.push(Change::Wrote(plan.xpi.clone()));
    if old.as_deref() != Some(new.as_str()) {
        crate::paths::write_private_atomic(&plan.user_js, new.as_bytes())
            .map_err(at(&plan.user_js))?;
    }
    changes.push(match old {
        None => Change::Wrote(plan.user_js.clone()),
        Some(o) if o == new => Change::Unchanged(plan.user_js.clone()),
        Some(_) => Change::Edited(plan.user_js.clone()),
    });
    Ok(changes)
}

/// Removes the add-on, the `user.js` block (the file too when nothing else
/// is left in it) and the block's values from `prefs.js`. Refused while
/// Firefox runs with the profile: it would write `prefs.js` back on exit.
pub fn uninstall(plan: &Plan) -> io::Result<Vec<Change>> {
    if running(&plan.profile) {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "Firefox is running with profile {}: quit it first",
                plan.profile.display()
            ),
        ));
    }
    let mut changes = Vec::new();
    match fs::remove_file(&plan.xpi) {
        Ok(()) => changes.push(Change::Removed(plan.xpi.clone())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(at(&plan.xpi)(e)),
    }
    if let Some(text) = read_opt(&plan.user_js)? {
        let rest = remove_block(&text).map_err(|e| invalid(&plan.user_js, &e))?;
        match rest {
            Some(r) if r.trim().is_empty() => {
                fs::remove_file(&plan.user_js).map_err(at(&plan.user_js))?;
                changes.push(Change::Removed(plan.user_js.clone()));
            }
            Some(r) => {
                crate::paths::write_private_atomic(&plan.user_js, r.as_bytes())
                    .map_err(at(&plan.user_js))?;
                changes.push(Change::Edited(plan.user_js.clone()));
            }
            None => {}
        }
    }
    if let Some(rest) = read_opt(&plan.prefs_js)?.as_deref().and_then(remove_prefs) {
        crate::paths::write_private_atomic(&plan.prefs_js, rest.as_bytes())
            .map_err(at(&plan.prefs_js))?;
        changes.push(Change::Edited(plan.prefs_js.clone()));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trip() {
        for user in [
            "",
            "user_pref(\"a\", 1);\n",
            "// mine\nuser_pref(\"b\", true);",
        ] {
            let once = add_block(user).unwrap();
            assert_eq!(add_block(&once).unwrap(), once, "idempotent");
            assert_eq!(once.matches(BEGIN).count(), 1);
            let back = remove_block(&once).unwrap().unwrap();
            assert_eq!(back.trim_end(), user.trim_end());
        }
        assert_eq!(remove_block("user_pref(\"a\", 1);\n").unwrap(), None);
        let open = format!("x\n{BEGIN}\nuser_pref(\"a\", 1);\n");
        assert_eq!(remove_block(&open), Err(UnclosedBlock(2)));
        assert!(add_block(&open).is_err());
    }

    #[test]
    fn prefs_cleanup() {
        let text = format!(
            "// Mozilla\nuser_pref(\"x\", 1);\n{}\n{}\n",
            PREFS[0], PREFS[1]
        );
        assert_eq!(
            remove_prefs(&text).unwrap(),
            "// Mozilla\nuser_pref(\"x\", 1);\n"
        );
        let changed = "user_pref(\"extensions.autoDisableScopes\", 3);\n";
        assert_eq!(remove_prefs(changed), None);
    }

    #[test]
    fn lock_targets() {
        assert_eq!(lock_pid("127.0.1.1:+4242"), Some(4242));
        assert_eq!(lock_pid("host"), None);
        assert_eq!(lock_pid("h:+x"), None);
    }
}
