//! The daily refresh of Google's signed CT log list: when the cached list
//! is missing or a day old, download `log_list.json` + `.sig` (from
//! gstatic.com, or `ct_list_url`), verify the signature with the embedded
//! key, install it (`ct::cache::refresh`), and judge with it from then on
//! ([`CtEvidenceSource::replace`](certwatch_engine::ct::CtEvidenceSource::replace);
//! the newer of it and the built-in list, as everywhere). A failure is
//! logged and retried in an hour; the list in use stays, and nothing else
//! waits for it. `ct_refresh = false` in config.toml turns it off, and with
//! `log_lists` set (the cache is not used) nothing is fetched.

use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::check::{builtin_ct_list, read_roots, unix_now};
use certwatch_engine::ct::cache;
use certwatch_engine::ct::fetch::FetchConfig;

use crate::server::{settings, Shared};

/// A cached list older than this is refreshed.
pub const REFRESH_SECS: i64 = 86_400;
/// After a failed refresh, the next attempt.
pub const RETRY_SECS: i64 = 3_600;

/// Sleeps until a refresh is due, refreshes, repeats; returns on shutdown.
pub(crate) async fn refresher(
    shared: Arc<Shared>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let s = shared.clone();
        let wait = tokio::task::spawn_blocking(move || refresh_if_due(&s, unix_now()))
            .await
            .unwrap_or(RETRY_SECS);
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(wait.max(60) as u64)) => {}
        }
    }
}

/// Refreshes the list when it is due (blocking; the lock is not held
/// during the download). Returns the seconds until the next look.
pub fn refresh_if_due(shared: &Shared, now: i64) -> i64 {
    let (config, data_dir, ct) = {
        let i = shared.lock();
        (
            i.config.clone(),
            i.paths.data_dir.clone(),
            i.engine.ct.clone(),
        )
    };
    if !config.ct_refresh() {
        return REFRESH_SECS;
    }
    let settings = match settings(&config) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("CT log list refresh skipped: {e}");
            return RETRY_SECS;
        }
    };
    if !settings.log_lists.is_empty() {
        // Configured lists replace the cache: nothing to fetch.
        return REFRESH_SECS;
    }
    if !cache::is_stale(&data_dir, now, REFRESH_SECS) {
        let at = cache::cached_at(&data_dir).unwrap_or(now);
        return (at + REFRESH_SECS - now).clamp(60, REFRESH_SECS);
    }
    let mut cfg = config
        .ct_list_url
        .as_deref()
        .map(FetchConfig::for_url)
        .unwrap_or_default();
    if let Some(r) = &settings.roots {
        match read_roots(r) {
            Ok(roots) => cfg.roots = Some(roots),
            Err(e) => {
                tracing::warn!("CT log list refresh skipped: {e}");
                return RETRY_SECS;
            }
        }
    }
    let result = cache::refresh(&data_dir, &cfg).and_then(|fetched| {
        let n = fetched.len();
        cache::load(&[], &data_dir, builtin_ct_list(&settings)).map(|in_use| (n, in_use.list))
    });
    match result {
        Ok((n, list)) => {
            let msg = format!(
                "CT log list refreshed from {}: {n} logs, signature verified",
                cfg.json_url
            );
            tracing::info!("{msg}");
            match (ct, list) {
                (Some(src), Some(list)) => src.replace(Arc::new(list)),
                // No CT evidence was in use (the built-in list does not apply
                // with replaced roots): rebuild the engine to pick the list up.
                (None, Some(_)) => {
                    if let Err(e) = shared.lock().rebuild_engine() {
                        tracing::warn!("CT log list installed, engine not rebuilt: {e}");
                    }
                }
                (_, None) => {}
            }
            let _ = shared.lock().store.log_event(now, "ct_list", None, &msg);
            REFRESH_SECS
        }
        Err(e) => {
            let msg = format!("CT log list refresh failed, the list in use stays: {e}");
            tracing::warn!("{msg}");
            let _ = shared
                .lock()
                .store
                .log_event(now, "ct_list_error", None, &msg);
            RETRY_SECS
        }
    }
}
