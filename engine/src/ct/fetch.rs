//! HTTP(S) for CT: fetching Google's signed log list, and the
//! [`HttpClient`] the CT watch back-ends ([`crate::ct::watch`]) send their
//! requests through, so the engine's HTTP lives in this one file.
//!
//! Blocking reqwest over rustls with the ring provider and either the
//! built-in Mozilla roots or caller-given roots. Bodies are size-bounded.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use super::loglist::{ListError, GOOGLE_LOG_LIST_SIG_URL, GOOGLE_LOG_LIST_URL, MAX_LIST_BYTES};

/// Where to fetch from, and whom to trust.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The list's URL.
    pub json_url: String,
    /// The signature's URL.
    pub sig_url: String,
    /// Trust anchors (DER certificates) replacing the Mozilla roots.
    pub roots: Option<Vec<Vec<u8>>>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            json_url: GOOGLE_LOG_LIST_URL.to_string(),
            sig_url: GOOGLE_LOG_LIST_SIG_URL.to_string(),
            roots: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl FetchConfig {
    /// Fetching the list from `url` and its signature from the same name
    /// ending `.sig` (`…/log_list.json` → `…/log_list.sig`).
    pub fn for_url(url: &str) -> FetchConfig {
        FetchConfig {
            json_url: url.to_string(),
            sig_url: match url.strip_suffix(".json") {
                Some(base) => format!("{base}.sig"),
                None => format!("{url}.sig"),
            },
            ..FetchConfig::default()
        }
    }
}

/// A rustls client config (ring) trusting `roots` (DER) or the Mozilla roots.
pub fn client_tls(roots: Option<&[Vec<u8>]>) -> Result<rustls::ClientConfig, ListError> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Some(ders) => {
            for d in ders {
                store
                    .add(rustls::pki_types::CertificateDer::from(d.clone()))
                    .map_err(|e| ListError(format!("bad root certificate: {e}")))?;
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ListError(format!("TLS setup: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// A blocking HTTP(S) client: rustls (ring) trusting given roots or the
/// Mozilla roots, a whole-request timeout, certwatch's user agent.
pub struct HttpClient(reqwest::blocking::Client);

impl HttpClient {
    /// A client trusting `roots` (DER) or the Mozilla roots.
    pub fn new(roots: Option<&[Vec<u8>]>, timeout: Duration) -> Result<HttpClient, ListError> {
        let client = reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(client_tls(roots)?)
            .timeout(timeout)
            .user_agent(concat!("certwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ListError(format!("HTTP client: {e}")))?;
        Ok(HttpClient(client))
    }

    /// Sends a GET for `url`; an error (one line) is a transport failure.
    pub fn get(&self, url: &str) -> Result<Answer, String> {
        self.0
            .get(url)
            .send()
            .map(Answer)
            .map_err(|e| e.to_string())
    }
}

/// An answer's status and headers; [`Answer::body`] reads the body.
pub struct Answer(reqwest::blocking::Response);

/// Why an answer's body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Reading failed (one line).
    Read(String),
    /// The body is longer than the limit given.
    TooLarge,
}

impl Answer {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        self.0.status().is_success()
    }

    /// A 5xx status.
    pub fn is_server_error(&self) -> bool {
        self.0.status().is_server_error()
    }

    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, at most `max` bytes (more is [`BodyError::TooLarge`]).
    pub fn body(self, max: u64) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        self.0
            .take(max + 1)
            .read_to_end(&mut body)
            .map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() as u64 > max {
            return Err(BodyError::TooLarge);
        }
        Ok(body)
    }

    /// The body, at most `max` bytes, read by `deadline`: the client's
    /// timeout bounds each read, this bounds a server that trickles forever.
    pub fn body_by(self, max: u64, deadline: std::time::Instant) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        let mut r = self.0.take(max + 1);
        let mut buf = [0u8; 16 * 1024];
        loop {
            if std::time::Instant::now() > deadline {
                return Err(BodyError::Read(
                    "the answer took longer than the timeout".into(),
                ));
            }
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => body.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BodyError::Read(e.to_string())),
            }
        }
        if body.len() as u64 > max {
            return Err(BodyError::TooLarge);
        }
        Ok(body)
    }
}

fn get(client: &HttpClient, url: &str, max: usize) -> Result<Vec<u8>, ListError> {
    let resp = client
        .get(url)
        .map_err(|e| ListError(format!("cannot fetch {url}: {e}")))?;
    if !resp.is_success() {
        let status = resp.0.status();
        return Err(ListError(format!("cannot fetch {url}: HTTP {status}")));
    }
    resp.body(max as u64).map_err(|e| match e {
        BodyError::Read(e) => ListError(format!("cannot read {url}: {e}")),
        BodyError::TooLarge => ListError(format!("{url}: larger than {max} bytes")),
    })
}

/// Downloads the list and its signature (not yet verified).
pub fn fetch_signed(cfg: &FetchConfig) -> Result<(Vec<u8>, Vec<u8>), ListError> {
    let client = HttpClient::new(cfg.roots.as_deref(), cfg.timeout)?;
    let json = get(&client, &cfg.json_url, MAX_LIST_BYTES)?;
    let sig = get(&client, &cfg.sig_url, 64 * 1024)?;
    Ok((json, sig))
}
