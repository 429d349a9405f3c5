//! `certwatch extension install|uninstall`: the browser companion's
//! native-messaging host manifests (logic in
//! `certwatch_engine::install::browser`, shared with `certwatch setup`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use certwatch_engine::install::browser::{self, Browser, Os, HOST_BINARY};

use crate::args::ExtensionCommand;
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(_ctx: &Ctx, c: ExtensionCommand) -> Result<Status> {
    let (install, a) = match c {
        ExtensionCommand::Install(a) => (true, a),
        ExtensionCommand::Uninstall(a) => (false, a),
    };
    let browsers = parse_browsers(&a.browser)?;
    let Some(os) = Os::current() else {
        bail!("this OS keeps host manifests in the registry; see extension-host/PROTOCOL.md (Windows)");
    };
    let home = home_dir()?;
    let host = match &a.host_path {
        Some(p) => absolute(p)?,
        None => default_host_path()?,
    };
    let manifests = browser::plan(&browsers, os, &home, &host)?;
    if a.dry_run {
        for m in &manifests {
            super::out(&format!("# {} → {}", m.browser.as_str(), m.path.display()))?;
            super::out(m.json.trim_end())?;
        }
        return Ok(Status::Ok);
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

fn default_host_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the certwatch executable")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let dir = exe
        .parent()
        .context("the certwatch executable has no parent directory")?;
    Ok(dir.join(HOST_BINARY))
}
