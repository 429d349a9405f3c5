//! The daemon as a *user* service: a systemd user unit on Linux, a launchd
//! agent on macOS. Text generation is pure; [`write`]/[`remove`] are the edges.
//!
//! Windows (not built): the daemon would run as a per-user Scheduled Task
//! ("at log on") or under the Service Control Manager, listening on a named
//! pipe `\\.\pipe\certwatchd-<user SID>` with a DACL for that SID instead of
//! the Unix socket; this module would write the task XML.

use std::path::{Path, PathBuf};

/// The unit / agent name.
pub const SYSTEMD_UNIT: &str = "certwatchd.service";
/// The launchd label.
pub const LAUNCHD_LABEL: &str = "org.certwatch.certwatchd";

/// Where a service definition goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The file to write.
    pub path: PathBuf,
    /// Its contents.
    pub text: String,
}

/// The systemd user unit for `daemon` (absolute path).
pub fn systemd_unit(daemon: &Path) -> String {
    format!(
        "[Unit]
Description=certwatch: watches which CA vouches for your sites
Documentation=https://github.com/certwatch/certwatch
After=network-online.target

[Service]
Type=simple
ExecStart={}
Restart=on-failure
RestartSec=10
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
PrivateTmp=yes
UMask=0077

[Install]
WantedBy=default.target
",
        daemon.display()
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The launchd agent plist for `daemon`, logging to `log_dir`.
pub fn launchd_plist(daemon: &Path, log_dir: &Path) -> String {
    let d = xml_escape(&daemon.display().to_string());
    let l = xml_escape(&log_dir.display().to_string());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key><array><string>{d}</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>ThrottleInterval</key><integer>30</integer>
  <key>ProcessType</key><string>Background</string>
  <key>LimitLoadToSessionType</key><string>Aqua</string>
  <key>StandardOutPath</key><string>{l}/certwatchd.log</string>
  <key>StandardErrorPath</key><string>{l}/certwatchd.log</string>
</dict>
</plist>
"#
    )
}

/// What to write for this OS under `home`.
pub fn plan(home: &Path, daemon: &Path, data_dir: &Path) -> Plan {
    if cfg!(target_os = "macos") {
        Plan {
            path: home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
            text: launchd_plist(daemon, data_dir),
        }
    } else {
        Plan {
            path: home.join(".config/systemd/user").join(SYSTEMD_UNIT),
            text: systemd_unit(daemon),
        }
    }
}

/// Writes the plan (directory created 0700 if missing, file 0600).
pub fn write(p: &Plan) -> std::io::Result<()> {
    if let Some(dir) = p.path.parent() {
        if !dir.exists() {
            crate::paths::ensure_private_dir(dir)?;
        }
    }
    crate::paths::write_private_atomic(&p.path, p.text.as_bytes())
}

/// Removes the plan's file; false when it was not there.
pub fn remove(p: &Plan) -> std::io::Result<bool> {
    match std::fs::remove_file(&p.path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_plist_name_the_binary() {
        let u = systemd_unit(Path::new("/home/u/.local/bin/certwatchd"));
        assert!(u.contains("ExecStart=/home/u/.local/bin/certwatchd\n"));
        assert!(u.contains("WantedBy=default.target"));
        let p = launchd_plist(
            Path::new("/Users/u/bin/cert<watchd"),
            Path::new("/Users/u/Library/Logs"),
        );
        assert!(p.contains("<string>/Users/u/bin/cert&lt;watchd</string>"));
        assert!(p.contains(LAUNCHD_LABEL));
    }
}
