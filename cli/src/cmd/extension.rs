//! `certwatch extension install|uninstall|package`: the browser
//! companion's native-messaging host manifests (logic in
//! `certwatch_engine::install::browser`, shared with `certwatch setup`),
//! the extension's packages (`install::package`) and, with `--permanent`,
//! the Firefox add-on installed into a profile (`install::firefox`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use certwatch_engine::install::browser::{self, Browser, Os, HOST_BINARY};
use certwatch_engine::install::firefox::{self, Change};
use certwatch_engine::install::package;

use crate::args::{ExtensionArgs, ExtensionCommand, PackageArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(_ctx: &Ctx, c: ExtensionCommand) -> Result<Status> {
    let (install, a) = match c {
        ExtensionCommand::Install(a) => (true, a),
        ExtensionCommand::Uninstall(a) => (false, a),
        ExtensionCommand::Package(a) => return package_cmd(a),
    };
    let browsers = parse_browsers(&a.browser)?;
    if a.permanent && browsers.iter().any(|b| *b != Browser::Firefox) {
        bail!("--permanent installs the Firefox add-on: pass --browser firefox (Chromium: see the README, \"Load unpacked\" or a policy)");
    }
    let Some(os) = Os::current() else {
        bail!("this OS keeps host manifests in the registry; see extension-host/PROTOCOL.md (Windows)");
    };
    let home = home_dir()?;
    let host = match &a.host_path {
        Some(p) => absolute(p)?,
        None => default_host_path()?,
    };
    let manifests = browser::plan(&browsers, os, &home, &host)?;
    // The profile first: a bad one fails before anything is written.
    let permanent = match a.permanent {
        true => Some(firefox_plan(&a, &home, os)?),
        false => None,
    };
    if a.dry_run {
        for m in &manifests {
            super::out(&format!("# {} → {}", m.browser.as_str(), m.path.display()))?;
            super::out(m.json.trim_end())?;
        }
        if let Some(p) = &permanent {
            super::out(&format!("# firefox add-on → {}", p.xpi.display()))?;
            super::out(&format!("# firefox user.js → {}", p.user_js.display()))?;
            super::out(firefox::block().trim_end())?;
        }
        return Ok(Status::Ok);
    }
    if !install {
        if let Some(p) = &permanent {
            // Before the host manifests: refused while Firefox runs.
            let changes = firefox::uninstall(p)?;
            report(&changes, "removed the certwatch block")?;
            if changes.is_empty() {
                super::out(&format!(
                    "firefox: no certwatch add-on was installed in {}",
                    p.profile.display()
                ))?;
            }
        }
    }
    if install {
        if !host.is_file() {
            bail!(
                "host binary {} not found: build it (cargo build -p certwatch-host) or pass --host-path",
                host.display()
            );
        }
        browser::write(&manifests)?;
        for m in &manifests {
            super::out(&format!(
                "{}: wrote {}",
                m.browser.as_str(),
                m.path.display()
            ))?;
        }
        if let Some(p) = &permanent {
            let xpi = package::xpi()?;
            let changes = firefox::install(p, &xpi)?;
            report(
                &changes,
                &format!("added the certwatch block: {}", firefox::PREFS.join(" ")),
            )?;
            super::out("firefox: Firefox installs the add-on at its next start (ESR, Developer Edition or Nightly; release Firefox refuses unsigned add-ons)")?;
            super::out(&format!(
                "undo: certwatch extension uninstall --browser firefox --permanent --profile {}",
                p.profile.display()
            ))?;
        }
    } else {
        let removed = browser::remove(&manifests)?;
        for p in &removed {
            super::out(&format!("removed {}", p.display()))?;
        }
        if removed.is_empty() {
            super::out("no certwatch host manifests were installed")?;
        }
    }
    Ok(Status::Ok)
}

/// The permanent-install plan: `--profile`, else the default profile of
/// `profiles.ini`.
fn firefox_plan(a: &ExtensionArgs, home: &Path, os: Os) -> Result<firefox::Plan> {
    let profile = match &a.profile {
        Some(p) => absolute(p)?,
        None => {
            let ini = firefox::profiles_ini(home, os == Os::MacOs);
            let text = std::fs::read_to_string(&ini).with_context(|| {
                format!(
                    "cannot read {} (start Firefox once, or pass --profile DIR)",
                    ini.display()
                )
            })?;
            let base = ini.parent().unwrap_or(home);
            firefox::default_profile(&text, base)?
        }
    };
    Ok(firefox::Plan::new(&profile)?)
}

/// One line per file changed; `what` says what was added to `user.js`.
fn report(changes: &[Change], what: &str) -> Result<()> {
    for c in changes {
        let line = match c {
            Change::Wrote(p) if p.extension().is_some_and(|e| e == "xpi") => {
                format!("firefox: wrote {} (the add-on)", p.display())
            }
            Change::Wrote(p) => format!("firefox: wrote {} ({what})", p.display()),
            Change::Edited(p) if p.ends_with("prefs.js") => format!(
                "firefox: edited {} (removed the values the certwatch block had set)",
                p.display()
            ),
            Change::Edited(p) => format!("firefox: edited {} ({what})", p.display()),
            Change::Unchanged(p) => {
                format!("firefox: {} already has the certwatch block", p.display())
            }
            Change::Removed(p) => format!("firefox: removed {}", p.display()),
        };
        super::out(&line)?;
    }
    Ok(())
}

/// `certwatch extension package`: both packages into `--out` (default `.`).
fn package_cmd(a: PackageArgs) -> Result<Status> {
    let out = absolute(a.out.as_deref().unwrap_or(Path::new(".")))?;
    if !out.exists() {
        certwatch_engine::paths::ensure_private_dir(&out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
    } else if !out.is_dir() {
        bail!("--out {}: not a directory", out.display());
    }
    for p in package::packages()? {
        let path = out.join(&p.name);
        certwatch_engine::paths::write_private_atomic(&path, &p.bytes)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        super::out(&format!(
            "{}: wrote {} ({} bytes, sha256 {})",
            p.browser,
            path.display(),
            p.bytes.len(),
            p.sha256_hex()
        ))?;
    }
    Ok(Status::Ok)
}

fn parse_browsers(names: &[String]) -> Result<Vec<Browser>> {
    let mut out = Vec::new();
    for n in names {
        let n = n.trim().to_ascii_lowercase();
        if n == "all" {
            out.extend(Browser::ALL);
        } else if let Some(b) = Browser::parse(&n) {
            out.push(b);
        } else {
            bail!("--browser {n:?}: expected firefox, chrome, chromium, brave, edge or all");
        }
    }
    Ok(out)
}

pub(crate) fn home_dir() -> Result<PathBuf> {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => absolute(Path::new(&h)),
        None => bail!("HOME is not set: cannot locate the browsers' manifest directories"),
    }
}

pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("{}: cannot make absolute", p.display()))
}

/// `certwatch-host` next to this executable (a build, `cargo install`),
/// else where the Debian package puts it, `PREFIX/lib/certwatch/` for a
/// `PREFIX/bin/certwatch` (the host is not a user command).
fn default_host_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the certwatch executable")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let dir = exe
        .parent()
        .context("the certwatch executable has no parent directory")?;
    let beside = dir.join(HOST_BINARY);
    let packaged = dir.join("../lib/certwatch").join(HOST_BINARY);
    if !beside.is_file() && packaged.is_file() {
        return Ok(packaged.canonicalize().unwrap_or(packaged));
    }
    Ok(beside)
}
