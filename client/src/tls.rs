//! TLS to the relay (docs/architecture.md §4.7): either the keys the invite pins, or the
//! usual Web PKI check against the Mozilla roots (`webpki-roots`).
//!
//! A pin is the SHA-256 of the relay certificate's SubjectPublicKeyInfo (its public key, in
//! DER), which `parley-server` prints at start. With pins, the relay must present a
//! certificate for exactly the pinned key or the pinned backup key: no certificate authority,
//! and no name check (a self-hosted relay is often reached by IP address). A certificate
//! renewed with the same key keeps the pin; a relay moved to the backup key keeps every
//! device enrolled. The handshake signature is still verified against the certificate's key, so
//! only the holder of its private key can complete the handshake. The same configuration serves the
//! HTTP API (reqwest) and the delivery WebSocket (tungstenite).

use std::sync::Arc;

use parley_proto::invite::TlsPins;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// What an invite pins for a certificate (DER): the SHA-256 of its SubjectPublicKeyInfo.
/// `None` for bytes that are not a certificate.
pub fn spki_pin(der: &[u8]) -> Option<[u8; 32]> {
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der).ok()?;
    Some(parley_proto::org::sha256(
        cert.subject_public_key_info().as_ref(),
    ))
}

/// The client configuration for a relay: pinned when `pins` are given, else Web PKI.
pub fn client_config(pins: Option<TlsPins>) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match pins {
        Some(pins) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                pins,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        None => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// Accepts a certificate for exactly a key whose SubjectPublicKeyInfo hashes to one of `pins`.
#[derive(Debug)]
struct PinnedCertificate {
    pins: TlsPins,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = spki_pin(end_entity.as_ref()).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if self.pins.accepts(&seen) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Parses a pin given as 64 hex digits (colons allowed, as `openssl` prints digests).
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    // openssl prints upper case with colons: that spelling is taken on purpose, by removing
    // the colons and lowering the case; anything else must be canonical hex.
    let digits: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    parley_proto::hex::decode(&digits).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse() {
        let pin = [0xab; 32];
        let hex: String = pin.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(parse_pin(&hex), Some(pin));
        let colons: Vec<String> = pin.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_pin(&colons.join(":")), Some(pin));
        assert_eq!(parse_pin("abcd"), None);
        assert_eq!(parse_pin(&"zz".repeat(32)), None);
        assert_eq!(parse_pin(&"+f".repeat(32)), None);
    }

    #[test]
    fn both_configurations_build() {
        assert!(client_config(None).is_ok());
        assert!(client_config(Some(TlsPins::new([1; 32]))).is_ok());
    }
}
