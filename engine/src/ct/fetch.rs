//! Fetching Google's signed log list over HTTPS (feature `net-fetch`).
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

fn get(client: &reqwest::blocking::Client, url: &str, max: usize) -> Result<Vec<u8>, ListError> {
    let resp = client
        .get(url)
        .send()
        .map_err(|e| ListError(format!("cannot fetch {url}: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(ListError(format!("cannot fetch {url}: HTTP {status}")));
    }
    let mut body = Vec::new();
    resp.take(max as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ListError(format!("cannot read {url}: {e}")))?;
    if body.len() > max {
        return Err(ListError(format!("{url}: larger than {max} bytes")));
    }
    Ok(body)
}

/// Downloads the list and its signature (not yet verified).
pub fn fetch_signed(cfg: &FetchConfig) -> Result<(Vec<u8>, Vec<u8>), ListError> {
    let client = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(client_tls(cfg.roots.as_deref())?)
        .timeout(cfg.timeout)
        .user_agent(concat!("certwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ListError(format!("HTTP client: {e}")))?;
    let json = get(&client, &cfg.json_url, MAX_LIST_BYTES)?;
    let sig = get(&client, &cfg.sig_url, 64 * 1024)?;
    Ok((json, sig))
}
