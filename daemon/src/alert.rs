//! Alerts: a `warning`/`critical` verdict becomes one stored alert per site
//! and new CA, a desktop notification, and the hook command's stdin.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certwatch_engine::check::Checked;
use certwatch_engine::sanitize::{escape_markup, sanitize};
use certwatch_engine::verdict::{Code, Severity};

use crate::server::Shared;

/// Title and body of the notification for a checked site (pure).
pub fn texts(c: &Checked) -> (String, String) {
    let site = sanitize(&c.site.to_string());
    let ca = sanitize(c.analysis.ca.short());
    let expiry_only = expiry_only(c);
    let title = match c.verdict.severity {
        _ if expiry_only => format!("certwatch: the certificate of {site} expires soon"),
        Severity::Critical => format!("certwatch: {site} — possible interception ({ca})"),
        _ => format!("certwatch: {site} is now vouched for by {ca}"),
    };
    let mut body = String::new();
    if let Some(prev) = &c.verdict.previous_ca {
        body.push_str(&format!(
            "Was: {}\nNow: {}\n",
            sanitize(&prev.describe()),
            sanitize(&c.analysis.ca.describe())
        ));
    }
    if let Some(r) = c.verdict.reasons.first() {
        body.push_str(&sanitize(&r.message));
        body.push('\n');
    }
    body.push_str(match c.verdict.severity {
        _ if expiry_only => "Renew it (thresholds: warn_days / crit_days in config.toml).",
        Severity::Critical => "Do not log in or send anything sensitive to this site from this network until you know why.",
        _ => "If the site announced a CA switch this is expected: certwatch accept SITE.",
    });
    (title, body)
}

/// The only reasons at warning or above are `expires_soon`.
fn expiry_only(c: &Checked) -> bool {
    let mut loud = c
        .verdict
        .reasons
        .iter()
        .filter(|r| r.severity >= Severity::Warning)
        .peekable();
    loud.peek().is_some() && loud.all(|r| r.code == Code::ExpiresSoon)
}

/// Stores, notifies and runs the hook when the verdict deserves it. The
/// shared state is locked only to store the alert and read the config;
/// the notification and the hook run with it released.
pub fn maybe_alert(shared: &Shared, c: &Checked) {
    if c.verdict.severity < Severity::Warning {
        return;
    }
    let (title, body) = texts(c);
    let json = certwatch_engine::report::checked_json(c).to_string();
    let mut ca_key = format!("{}|{}", c.analysis.ca.root_spki, c.analysis.ca.owner);
    if expiry_only(c) {
        // One expiry alert per certificate, apart from the CA's alerts.
        let leaf = c.analysis.chain.first().map(|l| l.sha256.as_str());
        ca_key = format!("expires_soon|{}", leaf.unwrap_or(""));
    }
    let (raised, notifications, hook) = {
        let mut inner = shared.lock();
        let raised = certwatch_engine::store::watch::raise(
            &mut inner.store,
            c.at,
            &c.site.to_string(),
            &ca_key,
            c.verdict.severity.as_str(),
            &title,
            &body,
            &json,
        );
        let config = &inner.config;
        let hook = (config.hook.clone(), config.hook_timeout());
        (raised, config.notifications, hook)
    };
    let id = match raised {
        Ok(Some(id)) => id,
        Ok(None) => return, // already alerted for this site and CA
        Err(e) => {
            tracing::error!("storing the alert: {e}");
            return;
        }
    };
    tracing::warn!(alert = id, site = %c.site, severity = c.verdict.severity.as_str(), "{title}");
    deliver(
        shared,
        id,
        &title,
        &body,
        c.verdict.severity,
        json,
        notifications,
        hook,
    );
}

/// Notifies (desktop, hook) an alert stored elsewhere (the CT watch stores
/// its alerts in the transaction that records the issuance).
pub fn notify(shared: &Shared, id: i64, title: &str, body: &str, sev: Severity, json: String) {
    let (notifications, hook) = {
        let inner = shared.lock();
        let config = &inner.config;
        (
            config.notifications,
            (config.hook.clone(), config.hook_timeout()),
        )
    };
    tracing::warn!(alert = id, severity = sev.as_str(), "{title}");
    deliver(shared, id, title, body, sev, json, notifications, hook);
}

#[allow(clippy::too_many_arguments)]
fn deliver(
    shared: &Shared,
    id: i64,
    title: &str,
    body: &str,
    sev: Severity,
    json: String,
    notifications: bool,
    (hook, timeout): (Vec<String>, Duration),
) {
    if notifications {
        // Notification servers may render markup: certificate text must not.
        let (title, body) = (escape_markup(title), escape_markup(body));
        if let Err(e) = desktop(&title, &body, sev) {
            note_notify_failure(shared, &e);
        }
    }
    if !hook.is_empty() {
        run_hook(hook, id, json, timeout);
    }
}

fn desktop(title: &str, body: &str, sev: Severity) -> Result<(), String> {
    let mut n = notify_rust::Notification::new();
    n.appname("certwatch")
        .summary(title)
        .body(body)
        .icon("security-high");
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        n.urgency(if sev == Severity::Critical {
            notify_rust::Urgency::Critical
        } else {
            notify_rust::Urgency::Normal
        });
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = sev;
    n.show().map(|_| ()).map_err(|e| e.to_string())
}

/// Runs the hook (argv, never a shell) with `{"alert_id", "verdict"}` on
/// stdin, on a thread of its own: a hook that does not read its stdin or
/// never exits is killed after `timeout` (config `hook_timeout`, default
/// 30 s) and never holds up the daemon.
fn run_hook(argv: Vec<String>, id: i64, json: String, timeout: Duration) {
    let payload = format!("{{\"alert_id\":{id},\"verdict\":{json}}}\n");
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("alert hook {:?}: {e}", argv[0]);
            return;
        }
    };
    let stdin = child.stdin.take();
    std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // Writes on a thread of their own: a hook that never reads
            // must not stall the timeout below.
            std::thread::spawn(move || {
                let _ = stdin.write_all(payload.as_bytes());
            });
        }
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        tracing::warn!("alert hook {:?} exited with {status}", argv[0]);
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    tracing::warn!(
                        "alert hook {:?} still running after {timeout:?}: killed",
                        argv[0]
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Err(e) => {
                    tracing::warn!("alert hook {:?}: {e}", argv[0]);
                    return;
                }
            }
        }
    });
}

/// Whether desktop notifications failed already (logged once).
pub fn note_notify_failure(shared: &Shared, e: &str) {
    if !shared
        .notify_failed
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        tracing::warn!("desktop notification failed (alerts are still stored): {e}");
    }
}
