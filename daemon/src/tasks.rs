//! The daemon's background tasks beside the socket: the scheduler of
//! watched sites (and the browser's re-checks), the CT log list refresh,
//! the CCADB refresh, the CT watch of chosen domains and the fleet drain.
//! Each returns on shutdown.

use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::check::unix_now;
use tokio::sync::watch::Receiver;
use tokio::task::JoinSet;

use crate::server::Shared;

/// Starts every background task.
pub(crate) fn spawn_background(
    tasks: &mut JoinSet<()>,
    shared: &Arc<Shared>,
    shutdown: &Receiver<bool>,
) {
    let (s, mut stop) = (shared.clone(), shutdown.clone());
    tasks.spawn(async move { scheduler(s, &mut stop).await });
    let (s, mut stop) = (shared.clone(), shutdown.clone());
    tasks.spawn(async move { crate::ct_refresh::refresher(s, &mut stop).await });
    let (s, mut stop) = (shared.clone(), shutdown.clone());
    tasks.spawn(async move { crate::ccadb_refresh::ccadb(s, &mut stop).await });
    let (s, mut stop) = (shared.clone(), shutdown.clone());
    tasks.spawn(async move { crate::ct_watch::watcher(s, &mut stop).await });
    let (s, mut stop) = (shared.clone(), shutdown.clone());
    tasks.spawn(async move { crate::fleet::drainer(s, &mut stop).await });
}

/// Sleeps until the earliest due watch (no wake-ups when nothing is due),
/// or until woken by an IPC change, then checks what is due.
async fn scheduler(shared: Arc<Shared>, shutdown: &mut Receiver<bool>) {
    crate::metrics::at_start(&shared).await;
    loop {
        let s = shared.clone();
        let next = tokio::task::spawn_blocking(move || s.next_due())
            .await
            .ok()
            .flatten();
        let sleep = async {
            match next {
                Some(t) => {
                    let wait = (t - unix_now()).max(0) as u64;
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = shared.wake.notified() => continue,
            _ = sleep => {
                let s = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    s.run_due();
                    s.run_rechecks();
                })
                .await;
            }
        }
    }
}
