//! The daemon's fleet drain: when `fleet_url` is set, it sends the outbox
//! of sightings (`store::fleet`, filled in the transaction that records
//! each sighting) to the fleet server in batches, in the background, and
//! backs off while the server is down (1 s doubling to 5 min), so
//! PostgreSQL down for hours loses nothing: the rows wait in SQLite. The
//! store is locked only to read a batch and to delete what the server
//! committed, never while the server is asked. Settings are read at start
//! (a `fleet_url` change needs a restart).

use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::check::unix_now;
use certwatch_engine::fleet::outbox::{Drain, BATCH};
use certwatch_engine::store::fleet as outbox;

use crate::server::{settings, Shared};

/// How often an empty outbox is looked at.
const IDLE: Duration = Duration::from_secs(2);
/// The longest back-off after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Drains the outbox until shutdown (returns at once without fleet mode).
pub(crate) async fn drainer(
    shared: Arc<Shared>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    let config = shared.lock().config.clone();
    let fleet = match settings(&config) {
        Ok(s) => s.fleet,
        Err(e) => {
            tracing::error!("fleet: {e}");
            return;
        }
    };
    let Some(f) = fleet else { return };
    let mut drain = match Drain::new(&f) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("fleet: {e}; sightings stay queued");
            return;
        }
    };
    tracing::info!(
        "fleet: sending sightings to {} as machine {}",
        certwatch_engine::fleet::redacted(&f.url),
        drain.machine
    );
    let mut backoff = Duration::ZERO;
    loop {
        let s = shared.clone();
        let (d, res) = match tokio::task::spawn_blocking(move || {
            let r = drain_once(&s, &mut drain);
            (drain, r)
        })
        .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("fleet: the drain task failed: {e}");
                return;
            }
        };
        drain = d;
        let wait = match res {
            Ok(sent) => {
                backoff = Duration::ZERO;
                if sent > 0 {
                    tracing::debug!("fleet: sent {sent} sightings");
                }
                IDLE
            }
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                tracing::warn!("{e}; retrying in {} s", backoff.as_secs());
                backoff
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends every queued row (blocking); returns how many were sent.
fn drain_once(shared: &Shared, drain: &mut Drain) -> Result<u64, String> {
    let mut sent = 0;
    loop {
        let batch = outbox::batch(&shared.lock().store, BATCH).map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(sent);
        }
        match drain.send(&batch) {
            Ok(new) => {
                let ids: Vec<i64> = batch.iter().map(|q| q.id).collect();
                outbox::delete(&mut shared.lock().store, &ids, new, unix_now())
                    .map_err(|e| e.to_string())?;
                sent += ids.len() as u64;
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = outbox::note_error(&mut shared.lock().store, &msg);
                return Err(msg);
            }
        }
    }
}
