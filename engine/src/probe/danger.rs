//! DANGER: a certificate verifier that accepts every chain.
//!
//! certwatch must see the chain a server presents *even when it does not
//! validate* (that is exactly when it matters), so the handshake must not stop
//! at the certificate. This verifier never rejects a chain; the trust decision
//! is made afterwards by [`crate::trust::Classifier`] on the captured chain.
//! It still checks the handshake signatures, so the peer must hold the private
//! key of the leaf it presented. It must never be used to send application data.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};

/// Accepts any chain; records the stapled OCSP response; checks handshake signatures.
#[derive(Debug)]
pub struct CaptureOnly {
    provider: Arc<CryptoProvider>,
    ocsp: Mutex<Vec<u8>>,
}

impl CaptureOnly {
    /// A verifier for one connection.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        CaptureOnly {
            provider,
            ocsp: Mutex::new(Vec::new()),
        }
    }

    /// The stapled OCSP response the server sent, if any (empty when none).
    pub fn ocsp_response(&self) -> Vec<u8> {
        self.ocsp.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl ServerCertVerifier for CaptureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if let Ok(mut g) = self.ocsp.lock() {
            *g = ocsp_response.to_vec();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
