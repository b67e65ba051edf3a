//! Counters for `/metrics` (Prometheus text format). They are per process.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use parley_proto::ErrorCode;

/// Open delivery sockets.
pub static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
/// Envelopes accepted and stored.
pub static ENVELOPES_STORED: AtomicU64 = AtomicU64::new(0);
/// Envelopes pushed to a socket (including redeliveries).
pub static DELIVERIES: AtomicU64 = AtomicU64::new(0);
/// Envelopes acknowledged and deleted.
pub static ACKS: AtomicU64 = AtomicU64::new(0);
/// HTTP requests served.
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Group commits of the writer.
pub static COMMITS: AtomicU64 = AtomicU64::new(0);
/// Rows (inserted envelopes and acked ids) written by group commits.
pub static COMMIT_ROWS: AtomicU64 = AtomicU64::new(0);
/// Microseconds spent writing group commits (begin to commit).
pub static COMMIT_MICROS: AtomicU64 = AtomicU64::new(0);
/// VACUUMs of the PostgreSQL queue table started by this node and completed.
pub static VACUUMS: AtomicU64 = AtomicU64::new(0);

const CODES: [(ErrorCode, &str); 20] = [
    (ErrorCode::MalformedJson, "malformed_json"),
    (ErrorCode::BadBase64, "bad_base64"),
    (ErrorCode::InvalidInput, "invalid_input"),
    (ErrorCode::UnsupportedVersion, "unsupported_version"),
    (ErrorCode::TooLarge, "too_large"),
    (ErrorCode::Unauthorized, "unauthorized"),
    (ErrorCode::Forbidden, "forbidden"),
    (ErrorCode::NotFound, "not_found"),
    (ErrorCode::Conflict, "conflict"),
    (ErrorCode::NoOrg, "no_org"),
    (ErrorCode::InviteInvalid, "invite_invalid"),
    (ErrorCode::TooManyDevices, "too_many_devices"),
    (ErrorCode::LogConflict, "log_conflict"),
    (ErrorCode::OrgRefused, "org_refused"),
    (ErrorCode::MismatchedDevices, "mismatched_devices"),
    (ErrorCode::StaleDevices, "stale_devices"),
    (ErrorCode::QueueFull, "queue_full"),
    (ErrorCode::RateLimited, "rate_limited"),
    (ErrorCode::Unavailable, "unavailable"),
    (ErrorCode::Internal, "internal"),
];

static ERRORS: [AtomicU64; 20] = [const { AtomicU64::new(0) }; 20];

/// Counts an error response.
pub fn count_error(code: ErrorCode) {
    if let Some(i) = CODES.iter().position(|(c, _)| *c == code)
        && let Some(counter) = ERRORS.get(i)
    {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Renders every metric; `queued` is the number of envelopes waiting in the database, if it
/// could be counted.
pub fn render(queued: Option<i64>) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "parley_connections",
        "gauge",
        "Open delivery WebSockets on this node.",
        CONNECTIONS.load(Ordering::Relaxed),
    );
    metric(
        "parley_database_up",
        "gauge",
        "1 if the database counted the queue for this scrape within 5 s, else 0.",
        u64::from(queued.is_some()),
    );
    if let Some(queued) = queued {
        metric(
            "parley_envelopes_queued",
            "gauge",
            "Envelopes waiting for delivery (all nodes).",
            u64::try_from(queued).unwrap_or(0),
        );
    }
    metric(
        "parley_envelopes_stored_total",
        "counter",
        "Envelopes accepted by this node.",
        ENVELOPES_STORED.load(Ordering::Relaxed),
    );
    metric(
        "parley_deliveries_total",
        "counter",
        "Envelopes pushed to sockets by this node.",
        DELIVERIES.load(Ordering::Relaxed),
    );
    metric(
        "parley_acks_total",
        "counter",
        "Envelopes acknowledged through this node.",
        ACKS.load(Ordering::Relaxed),
    );
    metric(
        "parley_http_requests_total",
        "counter",
        "HTTP requests served by this node.",
        REQUESTS.load(Ordering::Relaxed),
    );
    metric(
        "parley_group_commits_total",
        "counter",
        "Transactions of the envelope writer on this node.",
        COMMITS.load(Ordering::Relaxed),
    );
    metric(
        "parley_group_commit_rows_total",
        "counter",
        "Envelopes inserted plus acked ids deleted by those transactions.",
        COMMIT_ROWS.load(Ordering::Relaxed),
    );
    metric(
        "parley_queue_vacuums_total",
        "counter",
        "VACUUMs of the PostgreSQL envelope table run by this node.",
        VACUUMS.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP parley_group_commit_seconds_total Time spent in those transactions.\n# TYPE parley_group_commit_seconds_total counter\nparley_group_commit_seconds_total {:.6}",
        COMMIT_MICROS.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "# HELP parley_errors_total Error responses by code.\n# TYPE parley_errors_total counter"
    );
    for ((_, name), counter) in CODES.iter().zip(ERRORS.iter()) {
        let _ = writeln!(
            out,
            "parley_errors_total{{code=\"{name}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    out
}
