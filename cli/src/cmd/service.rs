//! `certwatch service install|uninstall|status` and `certwatch setup`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use certwatch_engine::client::Client;
use certwatch_engine::install::service::{self, SYSTEMD_UNIT};

use crate::args::{ExtensionArgs, ExtensionCommand, ServiceArgs, ServiceCommand, SetupArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

fn daemon_path(a: &ServiceArgs) -> Result<PathBuf> {
    if let Some(p) = &a.daemon_path {
        return super::extension::absolute(p);
    }
    let exe = std::env::current_exe().context("cannot locate the certwatch executable")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Ok(exe
        .parent()
        .context("the certwatch executable has no parent directory")?
        .join("certwatchd"))
}

fn systemctl(args: &[&str]) -> Result<()> {
    let st = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .status()
        .context("systemctl not found (use --no-enable and start certwatchd yourself)")?;
    if !st.success() {
        bail!("systemctl --user {} failed ({st})", args.join(" "));
    }
    Ok(())
}

pub fn run(ctx: &Ctx, c: ServiceCommand) -> Result<Status> {
    let (verb, a) = match c {
        ServiceCommand::Install(a) => ("install", a),
        ServiceCommand::Uninstall(a) => ("uninstall", a),
        ServiceCommand::Status(a) => ("status", a),
    };
    let home = super::extension::home_dir()?;
    let daemon = daemon_path(&a)?;
    let plan = service::plan(&home, &daemon, &ctx.paths.data_dir);
    let macos = cfg!(target_os = "macos");
    match verb {
        "install" => {
            if a.dry_run {
                super::out(&format!("# {}", plan.path.display()))?;
                super::out(plan.text.trim_end())?;
                return Ok(Status::Ok);
            }
            if !daemon.is_file() {
                bail!(
                    "daemon binary {} not found: build it (cargo build -p certwatch-engine --features daemon --bins) or pass --daemon-path",
                    daemon.display()
                );
            }
            let unchanged = std::fs::read_to_string(&plan.path).is_ok_and(|t| t == plan.text);
            if !unchanged {
                service::write(&plan)?;
            }
            super::out(&format!(
                "{} {}",
                if unchanged { "up to date:" } else { "wrote" },
                plan.path.display()
            ))?;
            if !a.no_enable {
                if macos {
                    let uid = std::fs::metadata(&home).map(|m| {
                        use std::os::unix::fs::MetadataExt;
                        m.uid()
                    })?;
                    let _ = Command::new("launchctl")
                        .args(["bootstrap", &format!("gui/{uid}")])
                        .arg(&plan.path)
                        .status();
                } else {
                    systemctl(&["daemon-reload"])?;
                    systemctl(&["enable", "--now", SYSTEMD_UNIT])?;
                    super::out("enabled and started (to keep it running after logout: loginctl enable-linger)")?;
                }
            }
        }
        "uninstall" => {
            if !a.no_enable && !macos && plan.path.exists() {
                let _ = systemctl(&["disable", "--now", SYSTEMD_UNIT]);
            }
            let removed = service::remove(&plan)?;
            super::out(&format!(
                "{} {}",
                if removed { "removed" } else { "not installed:" },
                plan.path.display()
            ))?;
        }
        _ => {
            super::out(&format!(
                "service file: {} ({})",
                plan.path.display(),
                if plan.path.exists() {
                    "installed"
                } else {
                    "not installed"
                }
            ))?;
            let running = Client::connect(&ctx.paths).is_some();
            super::out(&format!(
                "daemon: {}",
                if running { "running" } else { "not running" }
            ))?;
        }
    }
    Ok(Status::Ok)
}

pub fn setup(ctx: &Ctx, a: SetupArgs) -> Result<Status> {
    let dry = a.service.dry_run;
    let s1 = run(ctx, ServiceCommand::Install(a.service))?;
    let s2 = super::extension::run(
        ctx,
        ExtensionCommand::Install(ExtensionArgs {
            browser: vec!["all".into()],
            host_path: None,
            dry_run: dry,
            permanent: false,
            profile: None,
        }),
    )?;
    Ok(s1.worst(s2))
}
