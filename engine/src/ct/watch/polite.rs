//! HTTP with manners, shared by the watch back-ends: a minimum interval
//! between polls (refused rather than slept), exponential backoff after
//! HTTP 429/5xx (or the server's `Retry-After`), bounded bodies. The
//! requests themselves go through [`crate::ct::fetch::HttpClient`].

use std::time::{Duration, Instant};

use super::WatchError;
use crate::ct::fetch::{BodyError, HttpClient};

const MAX_BODY: u64 = 16 * 1024 * 1024;

/// HTTP with manners: a minimum interval between polls, exponential
/// backoff after 429/5xx (or the server's `Retry-After`), bounded bodies.
pub struct Polite {
    client: HttpClient,
    /// Minimum time between two polls.
    pub min_interval: Duration,
    /// First backoff step.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    last_poll: Option<Instant>,
    failures: u32,
    backoff_until: Option<Instant>,
}

impl Polite {
    /// A client over rustls/ring trusting `roots` (DER) or the Mozilla roots.
    pub fn new(roots: Option<&[Vec<u8>]>, min_interval: Duration) -> Result<Polite, WatchError> {
        let client =
            HttpClient::new(roots, Duration::from_secs(30)).map_err(|e| WatchError::Http {
                url: String::new(),
                detail: e.to_string(),
            })?;
        Ok(Polite {
            client,
            min_interval,
            backoff_base: Duration::from_secs(60),
            backoff_max: Duration::from_secs(6 * 3600),
            last_poll: None,
            failures: 0,
            backoff_until: None,
        })
    }

    /// Starts a poll: refused while backing off or before the minimum interval.
    pub fn begin_poll(&mut self) -> Result<(), WatchError> {
        let now = Instant::now();
        if let Some(u) = self.backoff_until.filter(|u| *u > now) {
            return Err(WatchError::Backoff {
                retry_in_secs: (u - now).as_secs().max(1),
            });
        }
        if let Some(l) = self.last_poll {
            let next = l + self.min_interval;
            if next > now {
                return Err(WatchError::RateLimited {
                    retry_in_secs: (next - now).as_secs().max(1),
                });
            }
        }
        self.last_poll = Some(now);
        Ok(())
    }

    /// GETs `url`; a 429/5xx starts or extends the backoff.
    pub fn get(&mut self, url: &str) -> Result<Vec<u8>, WatchError> {
        let resp = self.client.get(url).map_err(|detail| WatchError::Http {
            url: url.to_string(),
            detail,
        })?;
        let status = resp.status();
        if status == 429 || resp.is_server_error() {
            self.failures = self.failures.saturating_add(1);
            let exp = self
                .backoff_base
                .saturating_mul(1u32 << (self.failures - 1).min(16))
                .min(self.backoff_max);
            let retry_after = resp
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .map(|d| d.min(self.backoff_max));
            let wait = retry_after.unwrap_or(exp);
            self.backoff_until = Some(Instant::now() + wait);
            return Err(WatchError::Status {
                url: url.to_string(),
                status,
                retry_in_secs: wait.as_secs(),
            });
        }
        if !resp.is_success() {
            return Err(WatchError::Status {
                url: url.to_string(),
                status,
                retry_in_secs: self.min_interval.as_secs(),
            });
        }
        self.failures = 0;
        self.backoff_until = None;
        resp.body(MAX_BODY).map_err(|e| match e {
            BodyError::Read(detail) => WatchError::Http {
                url: url.to_string(),
                detail,
            },
            BodyError::TooLarge => WatchError::Parse {
                what: url.to_string(),
                detail: format!("answer larger than {MAX_BODY} bytes"),
            },
        })
    }
}
