//! End-to-end traffic: senders `PUT /v1/messages/{user}` with one envelope for each device of
//! the recipient user (as a client does), or send the same over their own delivery socket
//! ([`Transport::Ws`]); recipients' devices hold the delivery socket open and acknowledge what
//! they receive.
//!
//! Each envelope body carries the time its send started (nanoseconds since the process-wide epoch, `main.rs`),
//! the run id, the sender's index and a per-sender sequence number. A recipient measures the
//! latency when the envelope arrives on its socket, checks that each sender's envelopes arrive
//! in order (peak mode, where a sender has one request in flight), and acknowledges in
//! batches (every `ack_every` or `ACK_MAX` ids, whichever comes first).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parley_client::relay::{Delivery, Relay};
use parley_proto::B64;
use parley_proto::api::{MultiSendRequest, OutgoingEnvelope, RecipientEnvelopes, SendRequest};
use parley_proto::ws::ServerFrame;
use tokio::sync::{mpsc, watch};

use crate::org::Device;
use crate::relay;

/// Most ids in one ack frame (the relay accepts up to 1,024).
const ACK_MAX: usize = 128;
/// Bytes of the body header (time, run, sender, sequence).
pub const HEADER: usize = 24;

/// What a measurement found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Envelopes received (and acknowledged) per second over the steady window.
    pub received_per_sec: f64,
    /// Envelopes of send requests answered 200, per second over the same window.
    pub sent_per_sec: f64,
    /// Envelopes per send request (recipient users × their devices).
    pub per_request: usize,
    /// Recipient users per send request (more than one: a group message).
    pub users_per_request: usize,
    /// Latency percentiles, milliseconds (send start → envelope on the recipient socket).
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest latency.
    pub max_ms: f64,
    /// Latency samples.
    pub samples: usize,
    /// Send requests that failed.
    pub send_errors: u64,
    /// Envelopes sent but not received after draining.
    pub lost: u64,
    /// Envelopes of one sender that arrived out of order or twice.
    pub order_violations: u64,
    /// CPU time of the relay per envelope received in the window, µs (`None`: a relay this
    /// load generator did not start).
    pub relay_cpu_us: Option<f64>,
    /// CPU time of the load generator itself per envelope received in the window, µs.
    pub loadgen_cpu_us: f64,
    /// How the senders sent.
    pub transport: Transport,
    /// Sender devices (peak: closed-loop senders).
    pub senders: usize,
    /// Peak over sockets: sends each sender kept unanswered (otherwise 1).
    pub pipeline: usize,
}

impl Outcome {
    /// The relay delivered (nearly) what it stored over the window and refused nothing: a
    /// closed loop in which the senders outrun the deliveries measures a growing backlog (and,
    /// once queues are full, refusals), not a rate the relay sustains.
    pub fn sustained(&self) -> bool {
        self.received_per_sec >= 0.95 * self.sent_per_sec && self.send_errors == 0
    }
}

/// How senders send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// One HTTP request per send (`PUT /v1/messages/{user}`, `POST /v1/messages`).
    #[default]
    Http,
    /// A send frame on the sender's own delivery socket (`/v1/ws`), answered on it.
    Ws,
}

/// Shared counters of one run.
struct Shared {
    run: u32,
    measuring: AtomicBool,
    check_order: bool,
    sent_ok: AtomicU64,
    send_errors: AtomicU64,
    received: AtomicU64,
    order_violations: AtomicU64,
    latencies: Mutex<Vec<u64>>,
    stop_senders: AtomicBool,
}

/// Settings of a measurement.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Warm-up before the window.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// Envelope body size, bytes.
    pub body_bytes: usize,
    /// Recipients acknowledge at least this often.
    pub ack_every: Duration,
    /// Peak over sockets: sends each sender keeps unanswered (1: one at a time).
    pub pipeline: usize,
}

fn body(t0: u64, run: u32, sender: u32, seq: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(HEADER)];
    let header = [
        &t0.to_le_bytes()[..],
        &run.to_le_bytes()[..],
        &sender.to_le_bytes()[..],
        &seq.to_le_bytes()[..],
    ]
    .concat();
    for (dst, src) in b.iter_mut().zip(header) {
        *dst = src;
    }
    b
}

fn parse(body: &[u8]) -> Option<(u64, u32, u32, u64)> {
    let t0 = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let run = u32::from_le_bytes(body.get(8..12)?.try_into().ok()?);
    let sender = u32::from_le_bytes(body.get(12..16)?.try_into().ok()?);
    let seq = u64::from_le_bytes(body.get(16..24)?.try_into().ok()?);
    Some((t0, run, sender, seq))
}

async fn recipient(
    mut socket: Delivery,
    shared: Arc<Shared>,
    ack_every: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut pending: Vec<i64> = Vec::with_capacity(ACK_MAX);
    let mut last_seq: HashMap<u32, u64> = HashMap::new();
    let mut lat: Vec<u64> = Vec::new();
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(ServerFrame::Envelope(e))) => {
                    let now = crate::nanos();
                    if let Some((t0, run, sender, seq)) = parse(e.body.as_bytes())
                        && run == shared.run
                    {
                        shared.received.fetch_add(1, Ordering::Relaxed);
                        if shared.measuring.load(Ordering::Relaxed) {
                            lat.push(now.saturating_sub(t0));
                        }
                        if shared.check_order {
                            let last = last_seq.entry(sender).or_insert(0);
                            if seq <= *last && *last != 0 {
                                shared.order_violations.fetch_add(1, Ordering::Relaxed);
                            }
                            *last = seq;
                        }
                    }
                    pending.push(e.id);
                    if pending.len() == 1 {
                        timer.as_mut().reset(tokio::time::Instant::now() + ack_every);
                    }
                    if pending.len() >= ACK_MAX {
                        socket.ack(std::mem::take(&mut pending)).await?;
                    }
                }
                Some(Ok(
                    ServerFrame::QueueEmpty
                    | ServerFrame::LogAdvanced { .. }
                    | ServerFrame::Sent { .. }
                    | ServerFrame::SendFailed { .. },
                )) => {}
                Some(Ok(ServerFrame::Closing { .. })) | None => break,
                Some(Err(e)) => return Err(e.into()),
            },
            () = &mut timer, if !pending.is_empty() => {
                socket.ack(std::mem::take(&mut pending)).await?;
            }
            _ = stop.changed() => break,
        }
    }
    if !pending.is_empty() {
        socket.ack(pending).await?;
    }
    socket.close().await;
    if let Ok(mut l) = shared.latencies.lock() {
        l.extend(lat);
    }
    Ok(())
}

/// One envelope for every device of a recipient user.
fn envelopes(to: &[Device], body: &[u8]) -> Vec<OutgoingEnvelope> {
    to.iter()
        .map(|d| OutgoingEnvelope {
            device: d.device,
            registration_id: d.registration_id,
            body: B64(body.to_vec()),
        })
        .collect()
}

/// The recipient users of the `i`-th request: `k` consecutive users (wrapping around).
fn pick(recipients: &[Vec<Device>], i: usize, k: usize) -> Vec<&[Device]> {
    (0..k)
        .filter_map(|j| recipients.get((i + j) % recipients.len().max(1)))
        .map(Vec::as_slice)
        .collect()
}

/// Sends `body` to every device of each of `to` in one request, as a client does: a message
/// to one user goes to `PUT /v1/messages/{user}`, a group message to `POST /v1/messages`.
async fn send(relay: &Relay, to: &[&[Device]], body: &[u8]) -> anyhow::Result<()> {
    match to {
        [one] => {
            let user = one.first().context("a user with no device")?.user.clone();
            let req = SendRequest {
                messages: envelopes(one, body),
                ttl_secs: None,
            };
            relay.send(&user, &req).await?;
        }
        _ => {
            let recipients = to
                .iter()
                .filter_map(|devices| {
                    Some(RecipientEnvelopes {
                        user: devices.first()?.user.clone(),
                        messages: envelopes(devices, body),
                    })
                })
                .collect();
            relay
                .send_multi(&MultiSendRequest {
                    recipients,
                    ttl_secs: None,
                })
                .await?;
        }
    }
    Ok(())
}

/// The body of a send to `to` over the socket: a message to one user names one recipient.
fn socket_send(to: &[&[Device]], body: &[u8]) -> MultiSendRequest {
    MultiSendRequest {
        recipients: to
            .iter()
            .filter_map(|devices| {
                Some(RecipientEnvelopes {
                    user: devices.first()?.user.clone(),
                    messages: envelopes(devices, body),
                })
            })
            .collect(),
        ttl_secs: None,
    }
}

/// Whether a frame a sender's socket received answers a send: `Some(true)` stored,
/// `Some(false)` refused.
fn answered(frame: &ServerFrame) -> Option<bool> {
    match frame {
        ServerFrame::Sent { .. } => Some(true),
        ServerFrame::SendFailed { .. } => Some(false),
        _ => None,
    }
}

/// A sender in closed loop: at most `depth` sends unanswered (over HTTP one, waiting for its
/// answer).
enum Sender {
    /// An HTTP request per send.
    Http(Relay),
    /// Send frames on the sender's own delivery socket.
    Socket {
        socket: Box<Delivery>,
        depth: usize,
        unanswered: usize,
    },
}

impl Sender {
    async fn open(device: &Device, transport: Transport, depth: usize) -> anyhow::Result<Self> {
        Ok(match transport {
            Transport::Http => Self::Http(device.relay.clone()),
            Transport::Ws => Self::Socket {
                socket: Box::new(device.relay.connect().await.context("a sender's socket")?),
                depth: depth.max(1),
                unanswered: 0,
            },
        })
    }

    /// Sends `body` to every device of `to`, then waits until fewer than `depth` sends are
    /// unanswered; returns the answers that came (whether the relay stored each). A broken
    /// socket is an error.
    async fn send(
        &mut self,
        request: u64,
        to: &[&[Device]],
        body: &[u8],
    ) -> anyhow::Result<Vec<bool>> {
        match self {
            Self::Http(relay) => Ok(vec![send(relay, to, body).await.is_ok()]),
            Self::Socket {
                socket,
                depth,
                unanswered,
            } => {
                socket.send(request, socket_send(to, body)).await?;
                *unanswered += 1;
                let mut answers = Vec::new();
                while *unanswered >= *depth {
                    answers.push(next_answer(socket).await?);
                    *unanswered -= 1;
                }
                Ok(answers)
            }
        }
    }

    /// Waits for the answers still due, and closes.
    async fn finish(self) -> anyhow::Result<Vec<bool>> {
        let mut answers = Vec::new();
        if let Self::Socket {
            mut socket,
            unanswered,
            ..
        } = self
        {
            for _ in 0..unanswered {
                answers.push(next_answer(&mut socket).await?);
            }
            (*socket).close().await;
        }
        Ok(answers)
    }
}

/// The next answer to a send on a sender's socket.
async fn next_answer(socket: &mut Delivery) -> anyhow::Result<bool> {
    loop {
        match socket.next().await {
            Some(Ok(f)) => {
                if let Some(stored) = answered(&f) {
                    return Ok(stored);
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("a sender's socket closed"),
        }
    }
}

/// An open-loop sender over its delivery socket: sends what the scheduler hands it at once,
/// however many are unanswered, until the scheduler is done and every send is answered.
async fn rate_over_socket(
    s: Device,
    mut work: mpsc::UnboundedReceiver<MultiSendRequest>,
    shared: Arc<Shared>,
    per_request: usize,
) -> anyhow::Result<()> {
    let mut socket = s.relay.connect().await.context("a sender's socket")?;
    let (mut sent, mut answers, mut done) = (0u64, 0u64, false);
    while !done || answers < sent {
        tokio::select! {
            req = work.recv(), if !done => match req {
                Some(req) => {
                    sent += 1;
                    socket.send(sent, req).await?;
                }
                None => done = true,
            },
            frame = socket.next() => match frame {
                Some(Ok(f)) => match answered(&f) {
                    Some(true) => {
                        answers += 1;
                        shared.sent_ok.fetch_add(per_request as u64, Ordering::Relaxed);
                    }
                    Some(false) => {
                        answers += 1;
                        shared.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {}
                },
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("a sender's socket closed"),
            },
        }
    }
    socket.close().await;
    Ok(())
}

/// How senders produce load.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// Each sender sends as fast as it can, one request in flight (closed loop).
    Peak,
    /// Open loop at this many envelopes per second overall; latency counts from the
    /// scheduled send time.
    Rate(f64),
}

/// Runs one measurement with fresh sockets for every device of `recipients` (grouped by
/// user; each send goes to every device of `users_per_request` users, one envelope each).
pub async fn measure(
    senders: &[Device],
    recipients: &[Vec<Device>],
    users_per_request: usize,
    load: Load,
    transport: Transport,
    plan: &Plan,
    relay_pid: Option<u32>,
) -> anyhow::Result<Outcome> {
    let per_user = recipients.first().map_or(1, Vec::len).max(1);
    if recipients.iter().any(|r| r.len() != per_user) {
        anyhow::bail!("every recipient user needs the same number of devices");
    }
    if users_per_request == 0 || users_per_request > recipients.len() {
        anyhow::bail!("users per request must be 1 to the number of recipient users");
    }
    let per_request = per_user * users_per_request;
    let run = u32::from_le_bytes(crate::random_bytes::<4>()?);
    let shared = Arc::new(Shared {
        run,
        measuring: AtomicBool::new(false),
        check_order: matches!(load, Load::Peak),
        sent_ok: AtomicU64::new(0),
        send_errors: AtomicU64::new(0),
        received: AtomicU64::new(0),
        order_violations: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
        stop_senders: AtomicBool::new(false),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut rtasks = Vec::with_capacity(recipients.len());
    for r in recipients.iter().flatten() {
        let socket = r
            .relay
            .connect()
            .await
            .context("opening a delivery socket")?;
        rtasks.push(tokio::spawn(recipient(
            socket,
            shared.clone(),
            plan.ack_every,
            stop_rx.clone(),
        )));
    }
    let (body_bytes, depth) = (plan.body_bytes, plan.pipeline);
    let mut stasks = Vec::new();
    // Open loop over sockets: a task per sender, fed by the scheduler through these.
    let mut socket_tasks = Vec::new();
    let mut feeds = Vec::new();
    if let (Load::Rate(_), Transport::Ws) = (load, transport) {
        for s in senders {
            let (tx, rx) = mpsc::unbounded_channel();
            feeds.push(tx);
            socket_tasks.push(tokio::spawn(rate_over_socket(
                s.clone(),
                rx,
                shared.clone(),
                per_request,
            )));
        }
    }
    match load {
        Load::Peak => {
            for (si, s) in senders.iter().enumerate() {
                let s = s.clone();
                let recipients = recipients.to_vec();
                let shared = shared.clone();
                let si_u32 = u32::try_from(si)?;
                stasks.push(tokio::spawn(async move {
                    let mut sender = Sender::open(&s, transport, depth).await?;
                    let mut seq: u64 = 0;
                    // Counts answers; false if one was a refusal.
                    let count = |answers: Vec<bool>| {
                        let stored = answers.iter().filter(|&&a| a).count();
                        let refused = answers.len() - stored;
                        shared
                            .sent_ok
                            .fetch_add((stored * per_request) as u64, Ordering::Relaxed);
                        shared
                            .send_errors
                            .fetch_add(refused as u64, Ordering::Relaxed);
                        refused == 0
                    };
                    while !shared.stop_senders.load(Ordering::Relaxed) {
                        seq += 1;
                        let idx = si + usize::try_from(seq).unwrap_or(0);
                        let to = pick(&recipients, idx, users_per_request);
                        let b = body(crate::nanos(), run, si_u32, seq, body_bytes);
                        if !count(sender.send(seq, &to, &b).await?) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    count(sender.finish().await?);
                    anyhow::Ok(())
                }));
            }
        }
        Load::Rate(rate) => {
            let senders = senders.to_vec();
            let recipients = Arc::new(recipients.to_vec());
            let shared = shared.clone();
            stasks.push(tokio::spawn(async move {
                let start = tokio::time::Instant::now();
                let start_nanos = crate::nanos();
                let mut i: u64 = 0;
                let (ns, nr) = (senders.len() as u64, recipients.len() as u64);
                // `rate` is in envelopes/s; each request carries `per_request`.
                let requests_per_sec = rate / per_request as f64;
                while !shared.stop_senders.load(Ordering::Relaxed) {
                    let offset = Duration::from_secs_f64(i as f64 / requests_per_sec);
                    let at = start + offset;
                    if at > tokio::time::Instant::now() {
                        tokio::time::sleep_until(at).await;
                    }
                    let si = usize::try_from(i % ns).unwrap_or(0);
                    let ri = usize::try_from((i / ns + i) % nr).unwrap_or(0);
                    let Some(s) = senders.get(si) else { break };
                    let t0 = start_nanos + u64::try_from(offset.as_nanos()).unwrap_or(0);
                    let b = body(t0, run, u32::try_from(si).unwrap_or(0), i + 1, body_bytes);
                    if let Some(feed) = feeds.get(si) {
                        // Over the sender's socket.
                        let to = pick(&recipients, ri, users_per_request);
                        let _ = feed.send(socket_send(&to, &b));
                    } else {
                        let (relay, shared) = (s.relay.clone(), shared.clone());
                        let recipients = recipients.clone();
                        tokio::spawn(async move {
                            let to = pick(&recipients, ri, users_per_request);
                            match send(&relay, &to, &b).await {
                                Ok(()) => shared
                                    .sent_ok
                                    .fetch_add(per_request as u64, Ordering::Relaxed),
                                Err(_) => shared.send_errors.fetch_add(1, Ordering::Relaxed),
                            };
                        });
                    }
                    i += 1;
                }
                anyhow::Ok(())
            }));
        }
    }

    tokio::time::sleep(plan.warmup).await;
    let cpu = || -> anyhow::Result<(Option<f64>, f64)> {
        let relay = relay_pid
            .map(|pid| relay::cpu_secs(Some(pid)))
            .transpose()?;
        Ok((relay, relay::cpu_secs(None)?))
    };
    let (r0, s0, t0, c0) = (
        shared.received.load(Ordering::Relaxed),
        shared.sent_ok.load(Ordering::Relaxed),
        Instant::now(),
        cpu()?,
    );
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(plan.window).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let (r1, s1, elapsed, c1) = (
        shared.received.load(Ordering::Relaxed),
        shared.sent_ok.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        cpu()?,
    );
    let per_envelope_us = |secs: f64| secs * 1e6 / (r1 - r0).max(1) as f64;
    shared.stop_senders.store(true, Ordering::Relaxed);
    for t in stasks {
        t.await??;
    }
    // The scheduler is done (it held the feeds): socket senders finish once answered.
    for t in socket_tasks {
        t.await??;
    }
    // Let sends still in flight (rate mode) finish, then drain.
    let drain_until = Instant::now() + Duration::from_secs(30);
    let mut last = (u64::MAX, Instant::now());
    loop {
        let sent = shared.sent_ok.load(Ordering::Relaxed);
        let got = shared.received.load(Ordering::Relaxed);
        if got >= sent && last.0 == sent && last.1.elapsed() > Duration::from_millis(300) {
            break;
        }
        if last.0 != sent {
            last = (sent, Instant::now());
        }
        if Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    for t in rtasks {
        t.await??;
    }
    let sent = shared.sent_ok.load(Ordering::Relaxed);
    let got = shared.received.load(Ordering::Relaxed);
    let mut lat = shared
        .latencies
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    lat.sort_unstable();
    let pct = |p: f64| percentile(&lat, p);
    Ok(Outcome {
        received_per_sec: (r1 - r0) as f64 / elapsed,
        sent_per_sec: (s1 - s0) as f64 / elapsed,
        per_request,
        users_per_request,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        max_ms: lat.last().map_or(f64::NAN, |m| *m as f64 / 1e6),
        samples: lat.len(),
        send_errors: shared.send_errors.load(Ordering::Relaxed),
        lost: sent.saturating_sub(got),
        order_violations: shared.order_violations.load(Ordering::Relaxed),
        relay_cpu_us: c0.0.zip(c1.0).map(|(a, b)| per_envelope_us(b - a)),
        loadgen_cpu_us: per_envelope_us(c1.1 - c0.1),
        transport,
        senders: senders.len(),
        pipeline: match (load, transport) {
            (Load::Peak, Transport::Ws) => plan.pipeline.max(1),
            _ => 1,
        },
    })
}

/// The socket ceiling of a shape ([`crate::ceiling`]): `senders` send as in the peak (closed
/// loop, one send at a time, frames addressed to `users_per_request` of `recipients` as
/// there) to the ceiling server, which only answers. Envelopes/s are those of the answered
/// sends; latency is the round trip of a send; the "relay" CPU is the server's.
pub async fn ceiling(
    senders: &[Device],
    recipients: &[Vec<Device>],
    users_per_request: usize,
    plan: &Plan,
    server_pid: u32,
) -> anyhow::Result<Outcome> {
    let per_request = recipients.first().map_or(1, Vec::len).max(1) * users_per_request;
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(senders.len());
    for (si, s) in senders.iter().enumerate() {
        let (s, recipients) = (s.clone(), recipients.to_vec());
        let (stop, measuring, answered) = (stop.clone(), measuring.clone(), answered.clone());
        let body_bytes = plan.body_bytes;
        tasks.push(tokio::spawn(async move {
            let mut sender = Sender::open(&s, Transport::Ws, 1).await?;
            let mut lat = Vec::new();
            let mut seq: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let to = pick(&recipients, si + usize::try_from(seq)?, users_per_request);
                let t0 = crate::nanos();
                let b = body(t0, 0, u32::try_from(si)?, seq, body_bytes);
                let n = sender.send(seq, &to, &b).await?.len() as u64;
                answered.fetch_add(n, Ordering::Relaxed);
                if measuring.load(Ordering::Relaxed) {
                    lat.push(crate::nanos().saturating_sub(t0));
                }
            }
            sender.finish().await?;
            anyhow::Ok(lat)
        }));
    }
    tokio::time::sleep(plan.warmup).await;
    let cpu = || -> anyhow::Result<(f64, f64)> {
        Ok((relay::cpu_secs(Some(server_pid))?, relay::cpu_secs(None)?))
    };
    let (a0, t0, c0) = (answered.load(Ordering::Relaxed), Instant::now(), cpu()?);
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(plan.window).await;
    measuring.store(false, Ordering::Relaxed);
    let (a1, elapsed, c1) = (
        answered.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        cpu()?,
    );
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    lat.sort_unstable();
    let envelopes = (a1 - a0) * per_request as u64;
    let per_envelope_us = |secs: f64| secs * 1e6 / envelopes.max(1) as f64;
    let rate = envelopes as f64 / elapsed;
    Ok(Outcome {
        received_per_sec: rate,
        sent_per_sec: rate,
        per_request,
        users_per_request,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        p999_ms: percentile(&lat, 0.999),
        max_ms: lat.last().map_or(f64::NAN, |m| *m as f64 / 1e6),
        samples: lat.len(),
        relay_cpu_us: Some(per_envelope_us(c1.0 - c0.0)),
        loadgen_cpu_us: per_envelope_us(c1.1 - c0.1),
        transport: Transport::Ws,
        senders: senders.len(),
        pipeline: 1,
        ..Outcome::default()
    })
}

/// The `p` quantile of sorted nanosecond samples, in milliseconds (NaN with none).
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(0) as f64 / 1e6
}
