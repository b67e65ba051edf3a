//! `parley-loadgen`: measures the relay end to end over loopback and prints a Markdown report.
//!
//! For each backend (SQLite file, PostgreSQL) it
//! 1. measures the **database floor**: the relay's envelope rows inserted and deleted
//!    directly through sqlx, batched the best way the database allows ([`floor`]);
//! 2. starts a fresh relay (the `parley-server` binary next to this one, or `--url`), creates
//!    an org and registers sender and recipient devices;
//! 3. **peak**: S senders send as fast as they can (closed loop; one send in flight each, or
//!    `--pipeline` over sockets) to R recipients that hold the delivery socket open and
//!    acknowledge in batches; envelopes/s over a steady window, latency p50/p99 (send start →
//!    envelope on the recipient's socket). A closed loop with too few senders measures their
//!    round trips, not the relay, so S is raised (`--senders 16,64,256,1024`) until the rate
//!    stops rising by [`MORE_SENDERS_GAIN`] or the deliveries fall behind the sends; the last
//!    S that raised it is the peak;
//! 4. **rate**: open loop at a fixed rate (by default half the measured peak), latency p50/p99;
//! 5. **idle**: registers many devices, opens an idle authenticated socket for each and reads
//!    the relay's resident memory before and after.
//!
//! Before the backends, **ceiling** measures each shape's socket ceiling once: the same senders
//! and send frames against a server that only answers them ([`ceiling`]), an upper bound for
//! any relay's socket peak on this machine.
//!
//! Run it as `ulimit -n 20000; parley-loadgen` (see `docs/benchmarks.md (part 2)`).
#![forbid(unsafe_code)]

mod ceiling;
mod floor;
mod idle;
mod org;
mod relay;
mod traffic;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use parley_client::relay::Relay;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use parley_proto::UserId;
use parley_testkit::pg::TestDb;
pub use parley_testkit::random_bytes;

use crate::relay::{Backend, RelayProcess, Spawn};
use crate::traffic::{Load, Outcome, Plan, Transport};

/// How much faster a run with more senders must be to count as the higher peak. More senders
/// at the same rate only queue longer (Little's law), which the fixed-rate run at half the
/// peak would then measure.
const MORE_SENDERS_GAIN: f64 = 1.05;

/// Load generator for the Parley relay.
#[derive(Debug, Parser)]
#[command(name = "parley-loadgen", version)]
struct Cli {
    /// Backends to measure.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    backend: Vec<Backend>,
    /// Measurements to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["ceiling", "floor", "peak", "rate", "idle"])]
    mode: Vec<Mode>,
    /// Use a running relay (fresh: its org must not exist yet) instead of starting one;
    /// only with a single --backend (naming its database, for the floor).
    #[arg(long)]
    url: Option<String>,
    /// Setup token of the relay given by --url (a spawned relay gets a random one).
    #[arg(long, env = "PARLEY_SETUP_TOKEN", hide_env_values = true)]
    setup_token: Option<String>,
    /// The parley-server binary [default: next to this executable].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// PostgreSQL server on which scratch databases are created (and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pg_url: String,
    /// Where fresh data directories are made [default: the system temp folder].
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Sender devices (peak: one closed-loop task each). With several values the peak of each
    /// shape is measured with each in turn, fewest first, until one is not 5 % faster than
    /// the best before it (or its deliveries fall behind its sends); the last that was is the
    /// shape's peak, and the fixed rate uses its senders.
    #[arg(long, value_delimiter = ',', default_values_t = [16usize, 64, 256, 1024])]
    senders: Vec<usize>,
    /// Recipient users (each with --devices-per-recipient devices, one socket each).
    #[arg(long, default_value_t = 16)]
    recipients: usize,
    /// Devices of each recipient user, i.e. envelopes per send request (a client sends one
    /// request per recipient user with one envelope per device). Each value is a separate
    /// peak and rate measurement; 1 is one envelope per request.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 4, 10])]
    devices_per_recipient: Vec<usize>,
    /// Recipient users per send request: 1 is a message to one user (`PUT
    /// /v1/messages/{user}`), more is a group message in one request (`POST /v1/messages`).
    /// Each value is measured with each --devices-per-recipient value.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16])]
    users_per_request: Vec<usize>,
    /// How senders send: an HTTP request per send, or a send frame on the sender's delivery
    /// socket. Each value is measured with each shape.
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [Transport::Http, Transport::Ws])]
    transport: Vec<Transport>,
    /// Peak over sockets: sends each sender keeps unanswered, as a bot or a bulk sender may
    /// (the relay takes up to 64 per socket). 1 sends one at a time, as a person does.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 15.0)]
    window: f64,
    /// Envelope body size, bytes.
    #[arg(long, default_value_t = 256)]
    body_bytes: usize,
    /// Recipients acknowledge at least this often, milliseconds.
    #[arg(long, default_value_t = 2)]
    ack_every_ms: u64,
    /// Fixed rate, envelopes/s [default: --rate-fraction of the measured peak].
    #[arg(long)]
    rate: Option<f64>,
    /// Fixed rate as a fraction of the measured peak.
    #[arg(long, default_value_t = 0.5)]
    rate_fraction: f64,
    /// Idle sockets (devices registered for them).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Devices per user for the idle sockets (the first by invite, the others linked).
    #[arg(long, default_value_t = 10)]
    idle_devices_per_user: usize,
    /// Backends on which the idle measurement runs (it does not depend much on the database).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sqlite"])]
    idle_backend: Vec<Backend>,
    /// Rows per transaction for the floor (the first is the best batching, used for the
    /// verdict; others are shown for comparison).
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 64])]
    floor_batch: Vec<usize>,
    /// Floor window per batch size, seconds.
    #[arg(long, default_value_t = 10.0)]
    floor_window: f64,
    /// Run as the ceiling server (started by the load generator itself).
    #[arg(long, hide = true)]
    serve_ceiling: bool,
}

/// A measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// Socket ceiling of each shape: a server that only answers sends (once, not per backend).
    Ceiling,
    /// Database floor.
    Floor,
    /// Closed-loop peak throughput.
    Peak,
    /// Open-loop fixed rate.
    Rate,
    /// Idle sockets and relay memory.
    Idle,
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the process-wide epoch (send times in envelope bodies).
pub fn nanos() -> u64 {
    let e = EPOCH.get_or_init(Instant::now);
    u64::try_from(e.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Results of one backend.
#[derive(Debug, Default)]
struct Report {
    backend: Option<Backend>,
    floor: Vec<floor::Floor>,
    /// Every peak measured (each shape with each number of senders tried).
    peak: Vec<Outcome>,
    /// The peak of each shape: the last sustained run that more senders made 5 % faster.
    best: Vec<Outcome>,
    /// Fixed rate per envelopes-per-request.
    rate: Vec<(f64, Outcome)>,
    idle: Option<idle::IdleOutcome>,
}

/// The socket ceiling of each shape.
#[derive(Debug, Default)]
struct Ceiling {
    /// Every run (each shape with each number of senders tried).
    runs: Vec<Outcome>,
    /// The ceiling of each shape, chosen as a peak is.
    best: Vec<Outcome>,
}

impl Ceiling {
    /// The ceiling of the shape of `o`.
    fn of(&self, o: &Outcome) -> Option<&Outcome> {
        self.best
            .iter()
            .find(|c| c.per_request == o.per_request && c.users_per_request == o.users_per_request)
    }
}

/// Measures with each number of senders in `counts`, fewest first, until one is not
/// [`MORE_SENDERS_GAIN`] faster than the best before it or is not sustained; returns every
/// run and the best (the first is kept even if it falls behind: nothing better is known;
/// more senders than that only deepen the backlog).
async fn sweep<F, Fut>(
    counts: &[usize],
    mut run: F,
) -> anyhow::Result<(Vec<Outcome>, Option<Outcome>)>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<Outcome>>,
{
    let mut counts = counts.to_vec();
    counts.sort_unstable();
    counts.dedup();
    let (mut runs, mut best) = (Vec::new(), None::<Outcome>);
    for n in counts {
        let o = run(n).await?;
        runs.push(o.clone());
        let sustained = o.sustained();
        if !best.as_ref().is_none_or(|b| {
            sustained && o.received_per_sec > b.received_per_sec * MORE_SENDERS_GAIN
        }) {
            break;
        }
        best = Some(o);
        if !sustained {
            break;
        }
    }
    Ok((runs, best))
}

/// Measures the socket ceiling of every shape (see [`ceiling`]).
async fn run_ceiling(cli: &Cli, plan: &Plan) -> anyhow::Result<Ceiling> {
    let server = ceiling::CeilingProcess::start().await?;
    log(&format!("socket ceiling: server at {}", server.url));
    // Nothing is registered: the server reads no credentials.
    let device = |name: String, device| -> anyhow::Result<org::Device> {
        Ok(org::Device {
            user: UserId::new(name)?,
            device,
            identity: IdentityKeyPair::generate(&mut os_rng()),
            registration_id: 1,
            relay: Relay::new(server.url.clone()),
        })
    };
    let most = cli.senders.iter().copied().max().unwrap_or(1);
    let senders = (0..most)
        .map(|i| device(format!("s{i}"), 1))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = Ceiling::default();
    for &per_user in &cli.devices_per_recipient {
        let recipients = (0..cli.recipients)
            .map(|u| {
                (1..=per_user)
                    .map(|d| device(format!("r{u}"), u32::try_from(d)?))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for &users in &cli.users_per_request {
            let (runs, best) = sweep(&cli.senders, |n| {
                let (senders, recipients) = (&senders, &recipients);
                async move {
                    log(&format!(
                        "socket ceiling, {users} user(s) × {per_user} device(s)/request, {n} senders"
                    ));
                    let o = traffic::ceiling(
                        senders.get(..n).context("senders")?,
                        recipients,
                        users,
                        plan,
                        server.pid,
                    )
                    .await?;
                    log(&format!("socket ceiling {o:?}"));
                    Ok(o)
                }
            })
            .await?;
            out.runs.extend(runs);
            out.best.extend(best);
        }
    }
    Ok(out)
}

fn out(text: &str) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()?;
    Ok(())
}

fn log(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "[{:7.1}s] {text}", nanos() as f64 / 1e9);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.serve_ceiling {
        return ceiling::serve().await;
    }
    nanos();
    let max = parley_crypto::consts::MAX_DEVICES_PER_USER;
    if cli.devices_per_recipient.iter().any(|&n| n == 0 || n > max) {
        anyhow::bail!("--devices-per-recipient: each value must be 1 to {max} (the relay's limit)");
    }
    if cli
        .users_per_request
        .iter()
        .any(|&k| k == 0 || k > cli.recipients)
    {
        anyhow::bail!("--users-per-request: each value must be 1 to --recipients");
    }
    if !(1..=64).contains(&cli.pipeline) {
        anyhow::bail!("--pipeline: 1 to 64 (the relay's limit of sends waiting per socket)");
    }
    if cli.senders.is_empty() || cli.senders.contains(&0) {
        anyhow::bail!("--senders: each value must be at least 1");
    }
    if cli.url.is_some() && cli.backend.len() != 1 {
        anyhow::bail!("--url needs exactly one --backend (the database that relay uses)");
    }
    if let Some(limit) = relay::open_files_limit() {
        let need = (cli.idle as u64) + 200;
        if cli.mode.contains(&Mode::Idle) && limit < need {
            log(&format!(
                "open-file limit is {limit}; {need} are needed for {} idle sockets (run `ulimit -n 20000` first)",
                cli.idle
            ));
        }
    }
    let ceiling = if cli.mode.contains(&Mode::Ceiling) {
        run_ceiling(&cli, &plan(&cli)).await?
    } else {
        Ceiling::default()
    };
    let mut reports = Vec::new();
    for &backend in &cli.backend {
        let report = run_backend(&cli, backend).await?;
        reports.push(report);
    }
    out(&render(&cli, &reports, &ceiling)?)
}

fn plan(cli: &Cli) -> Plan {
    Plan {
        warmup: Duration::from_secs_f64(cli.warmup),
        window: Duration::from_secs_f64(cli.window),
        body_bytes: cli.body_bytes,
        ack_every: Duration::from_millis(cli.ack_every_ms),
        pipeline: cli.pipeline,
    }
}

async fn run_backend(cli: &Cli, backend: Backend) -> anyhow::Result<Report> {
    let mut report = Report {
        backend: Some(backend),
        ..Report::default()
    };
    let root = match &cli.data_root {
        Some(r) => tempfile::Builder::new()
            .prefix("parley-loadgen-")
            .tempdir_in(r)?,
        None => tempfile::Builder::new()
            .prefix("parley-loadgen-")
            .tempdir()?,
    };
    let devices = i64::try_from(cli.recipients)?;

    if cli.mode.contains(&Mode::Floor) {
        log(&format!("{}: database floor", backend.name()));
        let fw = Duration::from_secs_f64(cli.floor_window);
        report.floor = match backend {
            Backend::Sqlite => {
                floor::sqlite(root.path(), &cli.floor_batch, devices, cli.body_bytes, fw).await?
            }
            Backend::Postgres => {
                floor::postgres(&cli.pg_url, &cli.floor_batch, devices, cli.body_bytes, fw).await?
            }
        };
    }

    let traffic = cli.mode.contains(&Mode::Peak) || cli.mode.contains(&Mode::Rate);
    let idle = cli.mode.contains(&Mode::Idle) && cli.idle_backend.contains(&backend);
    if !traffic && !idle {
        return Ok(report);
    }

    // A fresh relay (or the one at --url).
    let token = match &cli.setup_token {
        Some(t) if cli.url.is_some() => t.clone(),
        _ => format!("loadgen-{}", u64::from_le_bytes(random_bytes::<8>()?)),
    };
    let pg = match (backend, &cli.url) {
        (Backend::Postgres, None) => Some(TestDb::create_on(&cli.pg_url, "parley_lg_relay").await?),
        _ => None,
    };
    let data_dir = root.path().join("relay");
    std::fs::create_dir_all(&data_dir)?;
    let process = match &cli.url {
        Some(_) => None,
        None => {
            let bin = match &cli.server_bin {
                Some(b) => b.clone(),
                None => relay::default_server_bin()?,
            };
            Some(
                RelayProcess::start(&Spawn {
                    bin: &bin,
                    data_dir: &data_dir,
                    database_url: pg.as_ref().map(TestDb::url),
                    setup_token: &token,
                })
                .await?,
            )
        }
    };
    let url = match (&cli.url, &process) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => p.url.clone(),
        (None, None) => anyhow::bail!("no relay"),
    };
    let result = async {
        let org = Arc::new(org::Org::create(Relay::new(url), &token).await?);
        if traffic {
            let most = cli.senders.iter().copied().max().unwrap_or(1);
            log(&format!("{}: registering {most} senders", backend.name()));
            let senders: Vec<_> = org::register_users(&org, "s", most, 1, 16)
                .await?
                .into_iter()
                .flatten()
                .collect();
            let plan = plan(cli);
            let pid = process.as_ref().map(|p| p.pid);
            for &per_user in &cli.devices_per_recipient {
                log(&format!(
                    "{}: registering {} recipients with {per_user} devices each",
                    backend.name(),
                    cli.recipients
                ));
                let recipients = org::register_users(
                    &org,
                    &format!("r{per_user}x"),
                    cli.recipients,
                    per_user,
                    16,
                )
                .await?;
                for (&users, &transport) in cli
                    .users_per_request
                    .iter()
                    .flat_map(|u| cli.transport.iter().map(move |t| (u, t)))
                {
                    let shape = format!(
                        "{users} user(s) × {per_user} device(s)/request over {transport:?}"
                    );
                    let mut peak: Option<Outcome> = None;
                    if cli.mode.contains(&Mode::Peak) {
                        let (runs, best) = sweep(&cli.senders, |n| {
                            let (shape, senders, recipients, plan) =
                                (&shape, &senders, &recipients, &plan);
                            async move {
                                log(&format!("{}: peak, {shape}, {n} senders", backend.name()));
                                let o = traffic::measure(
                                    senders.get(..n).context("senders")?,
                                    recipients,
                                    users,
                                    Load::Peak,
                                    transport,
                                    plan,
                                    pid,
                                )
                                .await?;
                                log(&format!("{}: peak {o:?}", backend.name()));
                                Ok(o)
                            }
                        })
                        .await?;
                        report.peak.extend(runs);
                        report.best.extend(best.clone());
                        peak = best;
                    }
                    if cli.mode.contains(&Mode::Rate) {
                        let rate = match (cli.rate, &peak) {
                            (Some(r), _) => r,
                            (None, Some(p)) => (p.received_per_sec * cli.rate_fraction).max(1.0),
                            (None, None) => {
                                anyhow::bail!("--mode rate needs --rate or --mode peak")
                            }
                        };
                        // The senders of the peak (or the first number given).
                        let n = peak
                            .as_ref()
                            .map_or(cli.senders.first().copied().unwrap_or(1), |p| p.senders);
                        log(&format!(
                            "{}: fixed rate {rate:.0}/s, {shape}",
                            backend.name()
                        ));
                        let o = traffic::measure(
                            senders.get(..n).context("senders")?,
                            &recipients,
                            users,
                            Load::Rate(rate),
                            transport,
                            &plan,
                            pid,
                        )
                        .await?;
                        log(&format!("{}: rate {:?}", backend.name(), o));
                        report.rate.push((rate, o));
                    }
                }
            }
        }
        if idle {
            let users = cli.idle.div_ceil(cli.idle_devices_per_user.max(1));
            log(&format!(
                "{}: idle: registering {users} users × {} devices",
                backend.name(),
                cli.idle_devices_per_user
            ));
            let pid = process.as_ref().map(|p| p.pid);
            let o = idle::run(&org, users, cli.idle_devices_per_user, || match pid {
                Some(pid) => relay::rss_bytes(pid),
                None => Ok(0),
            })
            .await?;
            log(&format!("{}: idle {:?}", backend.name(), o));
            report.idle = Some(o);
        }
        anyhow::Ok(())
    }
    .await;
    if let Some(p) = process {
        p.stop().await.context("stopping the relay")?;
    }
    if let Some(pg) = pg {
        pg.drop_db().await;
    }
    result?;
    Ok(report)
}

/// "N env/request", with the users and devices behind N for a group message, and how it was
/// sent.
fn shape(o: &Outcome) -> String {
    let over = match o.transport {
        Transport::Http => "HTTP",
        Transport::Ws => "socket",
    };
    let senders = match o.pipeline {
        1 => format!("{} senders", o.senders),
        d => format!("{} senders × {d} in flight", o.senders),
    };
    if o.users_per_request > 1 {
        format!(
            "{} env/request (group: {} users × {}), {over}, {senders}",
            o.per_request,
            o.users_per_request,
            o.per_request / o.users_per_request
        )
    } else {
        format!("{} env/request, {over}, {senders}", o.per_request)
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// A row of the measurements table.
fn row(s: &mut String, name: &str, label: &str, o: &Outcome) -> std::fmt::Result {
    writeln!(
        s,
        "| {name} | {label} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} / {} / {} | {} + {:.1} |",
        o.received_per_sec,
        o.sent_per_sec,
        o.p50_ms,
        o.p99_ms,
        o.p999_ms,
        o.max_ms,
        o.samples,
        o.send_errors,
        o.lost,
        o.order_violations,
        o.relay_cpu_us.map_or("?".to_owned(), |c| format!("{c:.1}")),
        o.loadgen_cpu_us
    )
}

fn render(cli: &Cli, reports: &[Report], ceiling: &Ceiling) -> anyhow::Result<String> {
    let mut s = String::new();
    writeln!(
        s,
        "\nSenders {:?} (tried fewest first; the peak of a shape is the last sustained count that was 5 % faster than the one before), recipient users {} (devices each: {:?}; users per request: {:?}), body {} B, warm-up {} s, window {} s, acks every {} ms or {} ids.\n",
        cli.senders,
        cli.recipients,
        cli.devices_per_recipient,
        cli.users_per_request,
        cli.body_bytes,
        cli.warmup,
        cli.window,
        cli.ack_every_ms,
        128
    )?;
    writeln!(
        s,
        "| Backend | Measurement | Envelopes/s | Sent/s | p50 ms | p99 ms | p99.9 ms | max ms | samples | failed requests / lost / out of order | CPU µs/envelope: relay + load generator |"
    )?;
    writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")?;
    for o in &ceiling.runs {
        // Latency here is a send's round trip; "relay" CPU is the ceiling server's.
        let label = format!(
            "socket ceiling (a server that only answers; latency: send → answer), {}",
            shape(o)
        );
        row(&mut s, "none", &label, o)?;
    }
    for r in reports {
        let name = r.backend.map_or("?", Backend::name);
        for f in &r.floor {
            writeln!(
                s,
                "| {name} | floor: sqlx insert+delete, {} rows/tx | {:.0} | | | | | | | | |",
                f.batch, f.rows_per_sec
            )?;
        }
        for o in &r.peak {
            let note = if o.sustained() {
                ""
            } else {
                " (not sustained: deliveries fell behind or sends were refused)"
            };
            row(
                &mut s,
                name,
                &format!("relay peak (closed loop), {}{note}", shape(o)),
                o,
            )?;
        }
        for (rate, o) in &r.rate {
            row(
                &mut s,
                name,
                &format!("relay fixed rate {rate:.0}/s, {}", shape(o)),
                o,
            )?;
        }
    }
    writeln!(s, "\n| Backend | Target | Measured | Verdict |")?;
    writeln!(s, "|---|---|---|---|")?;
    for r in reports {
        let name = r.backend.map_or("?", Backend::name);
        for (p, f) in r.best.iter().filter_map(|p| Some((p, r.floor.first()?))) {
            let ratio = p.received_per_sec / f.rows_per_sec;
            writeln!(
                s,
                "| {name} | peak ≥ 50% of the floor ({} rows/tx), {} | {:.0} / {:.0} = {:.0}% | {} |",
                f.batch,
                shape(p),
                p.received_per_sec,
                f.rows_per_sec,
                ratio * 100.0,
                verdict(ratio >= 0.5)
            )?;
            if let Some(c) = ceiling
                .of(p)
                .filter(|_| p.transport == Transport::Ws && p.pipeline == 1)
            {
                writeln!(
                    s,
                    "| {name} | (for comparison) socket ceiling of {} env/request: {:.0} = {:.0}% of the floor; this peak is {:.0}% of it | | |",
                    p.per_request,
                    c.received_per_sec,
                    c.received_per_sec / f.rows_per_sec * 100.0,
                    p.received_per_sec / c.received_per_sec * 100.0
                )?;
            }
            // On SQLite the relay's CPU time includes its database's; on PostgreSQL it does not.
            if let (Some(Backend::Sqlite), Some(cpu_us)) = (r.backend, p.relay_cpu_us)
                && cpu_us > 0.0
            {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                let bound = cores as f64 * 1e6 / cpu_us;
                writeln!(
                    s,
                    "| {name} | (for comparison) what the relay's own CPU time allows, were the {cores} cores its alone: {cores} × 10⁶ / {cpu_us:.1} µs per envelope = {bound:.0} = {:.0}% of the floor (a bound, not a measurement) | | |",
                    bound / f.rows_per_sec * 100.0
                )?;
            }
            for f in r.floor.iter().skip(1) {
                let ratio = p.received_per_sec / f.rows_per_sec;
                writeln!(
                    s,
                    "| {name} | (for comparison) floor at {} rows/tx, {} | {:.0} / {:.0} = {:.0}% | |",
                    f.batch,
                    shape(p),
                    p.received_per_sec,
                    f.rows_per_sec,
                    ratio * 100.0
                )?;
            }
        }
        for (rate, o) in &r.rate {
            writeln!(
                s,
                "| {name} | p99 < 50 ms at {rate:.0}/s, {} | p99 {:.2} ms (received {:.0}/s) | {} |",
                shape(o),
                o.p99_ms,
                o.received_per_sec,
                verdict(o.p99_ms < 50.0)
            )?;
        }
        if let Some(i) = &r.idle {
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            let per = if i.open > 0 {
                (i.rss_after.saturating_sub(i.rss_before)) as f64 / i.open as f64 / 1024.0
            } else {
                0.0
            };
            writeln!(
                s,
                "| {name} | relay RSS < 300 MiB with {} idle sockets | {} open ({} failed): {:.1} MiB before, {:.1} MiB after ({:.1} KiB per socket); registration {:.1} s, connecting {:.1} s | {} |",
                i.devices,
                i.open,
                i.failed,
                mib(i.rss_before),
                mib(i.rss_after),
                per,
                i.register_secs,
                i.connect_secs,
                verdict(i.open as usize >= i.devices && mib(i.rss_after) < 300.0)
            )?;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
