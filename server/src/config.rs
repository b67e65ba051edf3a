//! Typed, layered configuration: built-in defaults, then an optional TOML file (`--config`),
//! then `PARLEY_*` environment variables, then command-line flags. Validated at start;
//! secrets are redacted in `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use serde::Deserialize;

/// Parley's blind relay: stores and forwards end-to-end encrypted envelopes, prekeys and the
/// signed org log. It never sees a message, file or private key.
///
/// Every option can also be set in the TOML file given by --config (same names, with `_` for
/// `-`) or in the environment as PARLEY_ and the name in upper case (for instance PARLEY_DATABASE_URL).
/// Precedence: flag > environment > file > default.
#[derive(Debug, Parser)]
#[command(name = "parley-server", version)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, env = "PARLEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the SQLite database and the attachment folder live [default: ./parley-data].
    #[arg(long, env = "PARLEY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8787].
    #[arg(long, env = "PARLEY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// postgres://… to use PostgreSQL instead of the SQLite file; several relays may share it.
    #[arg(long, env = "PARLEY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "PARLEY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "PARLEY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on an address other than loopback (for a TLS-terminating proxy).
    #[arg(long, env = "PARLEY_ALLOW_PLAIN_HTTP")]
    pub allow_plain_http: Option<bool>,
    /// The one-time org setup token (default: generated and printed at the first start).
    #[arg(long, env = "PARLEY_SETUP_TOKEN", hide_env_values = true)]
    pub setup_token: Option<String>,
    /// Days an undelivered envelope is kept [default: 30].
    #[arg(long, env = "PARLEY_MESSAGE_TTL_DAYS")]
    pub message_ttl_days: Option<u64>,
    /// Days an attachment is kept [default: 30].
    #[arg(long, env = "PARLEY_ATTACHMENT_TTL_DAYS")]
    pub attachment_ttl_days: Option<u64>,
    /// Largest JSON request body, bytes [default: 8388608].
    #[arg(long, env = "PARLEY_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest envelope, bytes [default: 524288].
    #[arg(long, env = "PARLEY_MAX_ENVELOPE_BYTES")]
    pub max_envelope_bytes: Option<usize>,
    /// Most envelopes queued for one device [default: 10000].
    #[arg(long, env = "PARLEY_MAX_QUEUE")]
    pub max_queue: Option<u64>,
    /// Largest attachment, bytes [default: 104857600].
    #[arg(long, env = "PARLEY_MAX_ATTACHMENT_BYTES")]
    pub max_attachment_bytes: Option<u64>,
    /// Most bytes of attachments one device may have stored (not yet expired); at least
    /// --max-attachment-bytes [default: 2147483648].
    #[arg(long, env = "PARLEY_ATTACHMENT_QUOTA_BYTES")]
    pub attachment_quota_bytes: Option<u64>,
    /// Requests per second each device may make, sustained [default: 50].
    #[arg(long, env = "PARLEY_RATE_PER_SEC")]
    pub rate_per_sec: Option<f64>,
    /// Requests each device may make in a burst [default: 500].
    #[arg(long, env = "PARLEY_RATE_BURST")]
    pub rate_burst: Option<f64>,
    /// Requests per second each client address (IPv4 address or IPv6 /64) may make, sustained,
    /// to the endpoints that take no device credentials (reading the org log, registering,
    /// creating the org) [default: 5].
    #[arg(long, env = "PARLEY_IP_RATE_PER_SEC")]
    pub ip_rate_per_sec: Option<f64>,
    /// Requests each client address may make in a burst to those endpoints [default: 100].
    #[arg(long, env = "PARLEY_IP_RATE_BURST")]
    pub ip_rate_burst: Option<f64>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "PARLEY_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// PostgreSQL: VACUUM the envelope queue each time this node has deleted this many
    /// envelopes, whatever autovacuum does; 0 leaves it to autovacuum [default: 50000].
    #[arg(long, env = "PARLEY_PG_VACUUM_ROWS")]
    pub pg_vacuum_rows: Option<u64>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The TOML file: the same options, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    setup_token: Option<String>,
    message_ttl_days: Option<u64>,
    attachment_ttl_days: Option<u64>,
    max_body_bytes: Option<usize>,
    max_envelope_bytes: Option<usize>,
    max_queue: Option<u64>,
    max_attachment_bytes: Option<u64>,
    attachment_quota_bytes: Option<u64>,
    rate_per_sec: Option<f64>,
    rate_burst: Option<f64>,
    ip_rate_per_sec: Option<f64>,
    ip_rate_burst: Option<f64>,
    log_format: Option<LogFormat>,
    pg_vacuum_rows: Option<u64>,
}

/// Limits on what clients may send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON body.
    pub max_body_bytes: usize,
    /// Largest envelope.
    pub max_envelope_bytes: usize,
    /// Most envelopes queued per device.
    pub max_queue: u64,
    /// Largest attachment.
    pub max_attachment_bytes: u64,
    /// Most bytes of unexpired attachments one device may have stored.
    pub attachment_quota_bytes: u64,
    /// Token bucket refill per second, per device.
    pub rate_per_sec: f64,
    /// Token bucket size, per device.
    pub rate_burst: f64,
    /// Token bucket refill per second, per client address, for requests without device
    /// credentials.
    pub ip_rate_per_sec: f64,
    /// Token bucket size, per client address, for requests without device credentials.
    pub ip_rate_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_envelope_bytes: 512 * 1024,
            max_queue: 10_000,
            max_attachment_bytes: 100 * 1024 * 1024,
            attachment_quota_bytes: 2 * 1024 * 1024 * 1024,
            rate_per_sec: 50.0,
            rate_burst: 500.0,
            ip_rate_per_sec: 5.0,
            ip_rate_burst: 100.0,
        }
    }
}

/// The relay's configuration.
#[derive(Clone)]
pub struct Config {
    /// Data directory (SQLite file, attachments).
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// PostgreSQL URL; `None` for the SQLite file.
    pub database_url: Option<String>,
    /// TLS certificate and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Plain HTTP allowed beyond loopback.
    pub allow_plain_http: bool,
    /// Configured setup token.
    pub setup_token: Option<String>,
    /// How long undelivered envelopes are kept.
    pub message_ttl: Duration,
    /// How long attachments are kept.
    pub attachment_ttl: Duration,
    /// Limits.
    pub limits: Limits,
    /// Log format.
    pub log_format: LogFormat,
    /// PostgreSQL: envelopes this node deletes between two VACUUMs of the queue (0: never).
    pub pg_vacuum_rows: u64,
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            data_dir,
            listen,
            database_url,
            tls,
            allow_plain_http,
            setup_token,
            message_ttl,
            attachment_ttl,
            limits,
            log_format,
            pg_vacuum_rows,
        } = self;
        f.debug_struct("Config")
            .field("data_dir", data_dir)
            .field("listen", listen)
            .field(
                "database",
                &database_url
                    .as_ref()
                    .map(|_| "postgres (redacted)")
                    .unwrap_or("sqlite"),
            )
            .field("tls", tls)
            .field("allow_plain_http", allow_plain_http)
            .field("setup_token", &setup_token.as_ref().map(|_| "<redacted>"))
            .field("message_ttl", message_ttl)
            .field("attachment_ttl", attachment_ttl)
            .field("limits", limits)
            .field("log_format", log_format)
            .field("pg_vacuum_rows", pg_vacuum_rows)
            .finish()
    }
}

const DAY: u64 = 24 * 60 * 60;
/// A queue table churns through every envelope twice (insert, delete). Without VACUUM its
/// dead rows are never reused: it grows without bound, every insert dirties a new page, and
/// commits stall behind the writeback (measured: p99 over 100 ms at half the peak rate with
/// autovacuum off). PostgreSQL's autovacuum may be off, or too slow for this churn at its
/// defaults (it looks once a minute).
const DEFAULT_PG_VACUUM_ROWS: u64 = 50_000;

impl Config {
    /// Defaults for tests and embedding: SQLite in `data_dir`, loopback, any free port.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            tls: None,
            allow_plain_http: false,
            setup_token: None,
            message_ttl: Duration::from_secs(30 * DAY),
            attachment_ttl: Duration::from_secs(30 * DAY),
            limits: Limits::default(),
            log_format: LogFormat::Text,
            pg_vacuum_rows: DEFAULT_PG_VACUUM_ROWS,
        }
    }

    /// Layers defaults, the file named by `--config`, the environment and the flags.
    pub fn load(cli: Cli) -> anyhow::Result<Self> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Limits::default();
        let days = |v: Option<u64>| Duration::from_secs(v.unwrap_or(30).saturating_mul(DAY));
        let config = Self {
            data_dir: cli
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("parley-data")),
            listen: cli
                .listen
                .or(file.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8787))),
            database_url: cli
                .database_url
                .or(file.database_url)
                .filter(|s| !s.is_empty()),
            tls: match (cli.tls_cert.or(file.tls_cert), cli.tls_key.or(file.tls_key)) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => bail!("tls_cert and tls_key must be given together"),
            },
            allow_plain_http: cli
                .allow_plain_http
                .or(file.allow_plain_http)
                .unwrap_or(false),
            setup_token: cli
                .setup_token
                .or(file.setup_token)
                .filter(|s| !s.is_empty()),
            message_ttl: days(cli.message_ttl_days.or(file.message_ttl_days)),
            attachment_ttl: days(cli.attachment_ttl_days.or(file.attachment_ttl_days)),
            limits: Limits {
                max_body_bytes: cli
                    .max_body_bytes
                    .or(file.max_body_bytes)
                    .unwrap_or(d.max_body_bytes),
                max_envelope_bytes: cli
                    .max_envelope_bytes
                    .or(file.max_envelope_bytes)
                    .unwrap_or(d.max_envelope_bytes),
                max_queue: cli.max_queue.or(file.max_queue).unwrap_or(d.max_queue),
                max_attachment_bytes: cli
                    .max_attachment_bytes
                    .or(file.max_attachment_bytes)
                    .unwrap_or(d.max_attachment_bytes),
                attachment_quota_bytes: cli
                    .attachment_quota_bytes
                    .or(file.attachment_quota_bytes)
                    .unwrap_or(d.attachment_quota_bytes),
                rate_per_sec: cli
                    .rate_per_sec
                    .or(file.rate_per_sec)
                    .unwrap_or(d.rate_per_sec),
                rate_burst: cli.rate_burst.or(file.rate_burst).unwrap_or(d.rate_burst),
                ip_rate_per_sec: cli
                    .ip_rate_per_sec
                    .or(file.ip_rate_per_sec)
                    .unwrap_or(d.ip_rate_per_sec),
                ip_rate_burst: cli
                    .ip_rate_burst
                    .or(file.ip_rate_burst)
                    .unwrap_or(d.ip_rate_burst),
            },
            log_format: cli
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            pg_vacuum_rows: cli
                .pg_vacuum_rows
                .or(file.pg_vacuum_rows)
                .unwrap_or(DEFAULT_PG_VACUUM_ROWS),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks values that the types alone do not.
    pub fn validate(&self) -> anyhow::Result<()> {
        let l = &self.limits;
        if !(l.rate_per_sec > 0.0 && l.rate_burst >= 1.0) {
            bail!("rate_per_sec must be > 0 and rate_burst >= 1");
        }
        if !(l.ip_rate_per_sec > 0.0 && l.ip_rate_burst >= 1.0) {
            bail!("ip_rate_per_sec must be > 0 and ip_rate_burst >= 1");
        }
        if l.max_envelope_bytes == 0 || l.max_body_bytes < l.max_envelope_bytes {
            bail!("max_body_bytes must be at least max_envelope_bytes (> 0)");
        }
        if l.max_queue == 0 || l.max_attachment_bytes == 0 {
            bail!("max_queue and max_attachment_bytes must be > 0");
        }
        if l.attachment_quota_bytes < l.max_attachment_bytes {
            bail!("attachment_quota_bytes must be at least max_attachment_bytes");
        }
        if self.message_ttl.is_zero() || self.attachment_ttl.is_zero() {
            bail!("TTLs must be at least one day");
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("database_url must be a postgres:// URL (the default SQLite file needs none)");
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.allow_plain_http {
            bail!(
                "refusing plain HTTP on {}: give --tls-cert/--tls-key, or --allow-plain-http true \
                 behind a TLS-terminating proxy",
                self.listen.ip()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("parley-server").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn layers_defaults_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("parley.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_queue = 7\nmessage_ttl_days = 2\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let c = Config::load(cli(&["--config", path, "--max-queue", "9"])).unwrap();
        assert_eq!(c.listen.port(), 9000, "from the file");
        assert_eq!(c.limits.max_queue, 9, "the flag wins over the file");
        assert_eq!(c.message_ttl, Duration::from_secs(2 * DAY));
        assert_eq!(c.attachment_ttl, Duration::from_secs(30 * DAY), "default");
        assert_eq!(c.data_dir, PathBuf::from("parley-data"));

        std::fs::write(&file, "no_such_option = 1\n").unwrap();
        let err = Config::load(cli(&["--config", path])).unwrap_err();
        assert!(format!("{err:#}").contains("no_such_option"), "{err:#}");
        assert!(Config::load(cli(&["--rate-per-sec", "0"])).is_err());
        assert!(Config::load(cli(&["--ip-rate-burst", "0.5"])).is_err());
        let c = Config::load(cli(&["--ip-rate-per-sec", "0.5"])).unwrap();
        assert_eq!(
            (c.limits.ip_rate_per_sec, c.limits.ip_rate_burst),
            (0.5, 100.0)
        );
        let c = Config::load(cli(&["--attachment-quota-bytes", "200000000"])).unwrap();
        assert_eq!(c.limits.attachment_quota_bytes, 200_000_000);
        assert_eq!(
            Config::load(cli(&[]))
                .unwrap()
                .limits
                .attachment_quota_bytes,
            2 << 30,
            "default: 2 GiB"
        );
        let err = Config::load(cli(&["--attachment-quota-bytes", "1000"])).unwrap_err();
        assert!(
            format!("{err:#}").contains("attachment_quota_bytes"),
            "{err:#}"
        );
        assert!(
            Cli::try_parse_from(["parley-server", "--tls-cert", "c.pem"]).is_err(),
            "needs --tls-key"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut c = Config::for_data_dir("d");
        c.database_url = Some("postgres://user:hunter2@db/parley".into());
        c.setup_token = Some("sekrit-token".into());
        let text = format!("{c:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("sekrit-token"),
            "{text}"
        );
    }
}
