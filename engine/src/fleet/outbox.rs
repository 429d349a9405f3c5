//! Sending the outbox (`store::fleet`) to the fleet server: the one drain
//! of `certwatch fleet push` and the daemon. A batch is read, sent in one
//! server transaction, and deleted locally only after the server committed
//! it; a crash in between re-sends rows the server already has, which it
//! ignores (one row per machine and sighting id), so each sighting arrives
//! exactly once. No store lock is held while the server is asked: the
//! caller passes the store in for the local steps only.

use std::time::Duration;

use super::pg::{Fleet, Row};
use super::FleetSettings;
use crate::store::fleet::{self as outbox, Queued};
use crate::store::{Store, StoreError};

/// Rows per server transaction.
pub const BATCH: usize = 500;
/// The most one batch may take.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(20);

/// A drain's connection and identity.
#[derive(Debug)]
pub struct Drain {
    /// The server.
    pub fleet: Fleet,
    /// This machine's fleet id.
    pub machine: String,
    network: String,
    secret: Option<Vec<u8>>,
}

/// What one drain sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Rows sent (and deleted locally).
    pub sent: u64,
    /// Rows the server did not have yet.
    pub new: u64,
}

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The server failed; the rows stay queued.
    #[error(transparent)]
    Fleet(#[from] super::pg::FleetError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Drain {
    /// Prepares a drain for `s` (no network I/O).
    pub fn new(s: &FleetSettings) -> Result<Drain, String> {
        Ok(Drain {
            fleet: Fleet::new(s).map_err(|e| e.to_string())?,
            machine: super::machine_id(s, super::MACHINE_ID_FILES)?,
            network: s.network.clone(),
            secret: super::read_secret(s)?,
        })
    }

    /// The server's rows for `batch` (site names keyed-hashed when set).
    pub fn rows(&self, batch: &[Queued]) -> Vec<Row> {
        batch
            .iter()
            .map(|q| Row {
                sighting_id: q.sighting_id.clone(),
                site: super::site_key(
                    &crate::probe::target::Site {
                        host: q.host.clone(),
                        port: q.port,
                    },
                    self.secret.as_deref(),
                ),
                operator: q.operator.clone(),
                ca_name: q.ca_name.clone(),
                seen_at: q.seen_at,
            })
            .collect()
    }

    /// Sends one batch; returns how many rows were new on the server.
    pub fn send(&mut self, batch: &[Queued]) -> Result<u64, super::pg::FleetError> {
        let rows = self.rows(batch);
        self.fleet
            .push(&self.machine, &self.network, &rows, BATCH_TIMEOUT)
    }

    /// Drains everything queued in `store` (which the caller owns for the
    /// whole drain: the CLI). A failure is noted in the store and returned.
    pub fn drain(&mut self, store: &mut Store, now: i64) -> Result<Sent, DrainError> {
        let mut total = Sent::default();
        loop {
            let batch = outbox::batch(store, BATCH)?;
            if batch.is_empty() {
                return Ok(total);
            }
            match self.send(&batch) {
                Ok(new) => {
                    let ids: Vec<i64> = batch.iter().map(|q| q.id).collect();
                    outbox::delete(store, &ids, new, now)?;
                    total.sent += ids.len() as u64;
                    total.new += new;
                }
                Err(e) => {
                    outbox::note_error(store, &e.to_string())?;
                    return Err(e.into());
                }
            }
        }
    }
}
