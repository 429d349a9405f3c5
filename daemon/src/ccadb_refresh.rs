//! Background refresh of the data the engine decides with: the CCADB table,
//! weekly (issue 12). A failed refresh is logged and retried at the next
//! round; the engine keeps the table it has (cache or embedded snapshot).
//!
//! What it reveals: one HTTPS GET of CCADB's public report (nothing about
//! the sites the user visits). `ccadb_refresh = false` turns it off; a
//! configured `ccadb` file turns it off too (the user chose the data).

use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::ccadb::source;
use certwatch_engine::check::unix_now;
use certwatch_engine::ct::fetch::HttpClient;

use crate::server::Shared;

/// How often the daemon looks whether the table is due (it is refreshed
/// only when [`source::is_stale`]: weekly).
const ROUND: Duration = Duration::from_secs(6 * 3600);

/// What one round did.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// Off, configured away, or not due.
    NotDue,
    /// A new table is in use: records, date.
    Installed(usize, String),
}

/// One round: downloads and installs the table when it is due, and swaps
/// it into the running engine.
pub fn ccadb_once(shared: &Shared, now: i64) -> Result<Refreshed, String> {
    let (data_dir, url, wanted) = {
        let inner = shared.lock();
        let settings = inner.settings()?;
        let wanted = inner.config.ccadb_refresh && settings.ccadb.is_none();
        let url = inner
            .config
            .ccadb_url
            .clone()
            .unwrap_or_else(|| source::DEFAULT_URL.to_string());
        (inner.paths().data_dir.clone(), url, wanted)
    };
    if !wanted || !source::is_stale(&data_dir, now) {
        return Ok(Refreshed::NotDue);
    }
    // The download runs without the lock: checks go on meanwhile.
    let http = HttpClient::new(None, Duration::from_secs(120)).map_err(|e| e.to_string())?;
    let built = source::download(&url, &http, now)?;
    let path = source::install(&data_dir, &built.table)?;
    let (records, date) = (built.table.len(), built.table.date_str());
    let mut inner = shared.lock();
    inner.replace_ccadb(Arc::new(built.table));
    let _ = inner.store.log_event(
        now,
        "ccadb",
        None,
        &format!(
            "CCADB table refreshed from {url}: {records} records dated {date}, {} rows skipped; cached at {}",
            built.skipped.len(),
            path.display()
        ),
    );
    Ok(Refreshed::Installed(records, date))
}

/// Runs [`ccadb_once`] at start and every [`ROUND`] until shutdown.
pub async fn ccadb(shared: Arc<Shared>, shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || ccadb_once(&s, unix_now())).await {
            Ok(Ok(Refreshed::Installed(n, date))) => {
                tracing::info!("CCADB table refreshed: {n} records dated {date}")
            }
            Ok(Ok(Refreshed::NotDue)) => {}
            Ok(Err(e)) => {
                tracing::warn!("CCADB refresh failed (keeping the table in use): {e}");
                let _ = shared
                    .lock()
                    .store
                    .log_event(unix_now(), "ccadb_error", None, &e);
            }
            Err(e) => tracing::warn!("CCADB refresh task: {e}"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(ROUND) => {}
        }
    }
}
