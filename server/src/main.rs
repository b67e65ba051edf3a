//! `parley-server`: the relay binary. Everything is in the library; this parses the
//! configuration, sets up logging and runs until SIGTERM or ctrl-c.
#![forbid(unsafe_code)]

use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use parley_server::Relay;
use parley_server::config::{Cli, Config, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(Cli::parse())?;
    let filter = EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    tracing::info!(config = ?config, "starting");
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let relay = Relay::open(config.clone()).await?;
    if let Some(token) = &relay.new_setup_token {
        // Shown once to the operator on the terminal, never logged.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "The org is not set up yet. Setup token (valid until the org is created): {token}"
        )?;
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let Some((cert, _)) = &config.tls {
        // What clients pin (`parley init-org --tls-pin`); invites carry it to everyone else.
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let first = CertificateDer::pem_file_iter(cert)
            .ok()
            .and_then(|mut certs| certs.next())
            .and_then(Result::ok)
            .with_context(|| format!("reading the certificate {}", cert.display()))?;
        // The SHA-256 of its public key (SubjectPublicKeyInfo): a certificate renewed with
        // the same key keeps it.
        let spki = webpki::EndEntityCert::try_from(&first)
            .map(|c| parley_proto::org::sha256(c.subject_public_key_info().as_ref()))
            .map_err(|e| anyhow::anyhow!("reading the certificate {}: {e}", cert.display()))?;
        let pin: String = spki.iter().map(|b| format!("{b:02x}")).collect();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "TLS public key SHA-256 (for parley init-org --tls-pin): {pin}"
        )?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "parley-server listening on {scheme}://{addr}")?;
        out.flush()?;
    }
    relay.serve(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
