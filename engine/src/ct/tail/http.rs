//! The GETs of a tail run: through [`crate::ct::fetch::HttpClient`], each
//! body bounded in size and read within the timeout (a server that
//! streams forever, however slowly, is cut off), every byte counted against the run's budget. 429 and 5xx
//! become [`TailError::Status`] with the server's `Retry-After` (or a
//! minute); a run makes no second attempt.

use std::time::Duration;

use super::TailError;
use crate::ct::fetch::{BodyError, HttpClient};

/// Retry time suggested after a 429/5xx without `Retry-After`.
const DEFAULT_RETRY_SECS: u64 = 60;

/// A log's HTTP client: a base URL, bounded bodies, counted bytes.
pub struct Fetcher {
    client: HttpClient,
    base: String,
    bytes: u64,
    requests: u64,
    timeout: Duration,
}

/// A body and whether the server said it is gzip-compressed.
pub struct Body {
    /// The bytes as received.
    pub bytes: Vec<u8>,
    /// `Content-Encoding: gzip`.
    pub gzip: bool,
}

impl Fetcher {
    /// A client for the log at `base` (a trailing `/` is added), trusting
    /// `roots` (DER) or the Mozilla roots, `timeout` per request.
    pub fn new(
        base: &str,
        roots: Option<&[Vec<u8>]>,
        timeout: Duration,
    ) -> Result<Fetcher, TailError> {
        let client = HttpClient::new(roots, timeout).map_err(|e| TailError::Http {
            url: base.to_string(),
            detail: e.to_string(),
        })?;
        let mut base = base.trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Fetcher {
            client,
            base,
            bytes: 0,
            requests: 0,
            timeout,
        })
    }

    /// The URL of `path` under the base.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// GETs `path` (under the base), at most `max` bytes of body.
    pub fn get(&mut self, path: &str, max: u64) -> Result<Body, TailError> {
        let url = self.url(path);
        let deadline = std::time::Instant::now() + self.timeout;
        self.requests += 1;
        let resp = self.client.get(&url).map_err(|detail| TailError::Http {
            url: url.clone(),
            detail,
        })?;
        let status = resp.status();
        if !resp.is_success() {
            let retry = (status == 429 || resp.is_server_error()).then(|| {
                resp.header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(DEFAULT_RETRY_SECS)
            });
            return Err(TailError::Status {
                url,
                status,
                retry_in_secs: retry,
            });
        }
        let gzip = resp
            .header("content-encoding")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        match resp.body_by(max, deadline) {
            Ok(bytes) => {
                self.bytes += bytes.len() as u64;
                Ok(Body { bytes, gzip })
            }
            Err(BodyError::TooLarge) => {
                self.bytes += max;
                Err(TailError::bad(
                    &url,
                    format!("answer larger than {max} bytes"),
                ))
            }
            Err(BodyError::Read(detail)) => Err(TailError::Http { url, detail }),
        }
    }
}
