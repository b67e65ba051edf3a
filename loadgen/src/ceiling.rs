//! The **socket ceiling**: how fast senders that send one at a time over their sockets can be
//! answered on this machine by a server that does nothing else.
//!
//! A send over the delivery socket costs the relay, whatever it then does with the envelopes,
//! a frame read and parsed and an answer written, and the sender the mirror of that: a wake-up
//! and a system call or two on each side for every message. For a message of one envelope
//! that cost alone may be more than the envelope's share of the machine at the target rate.
//! This measures it: the load generator starts a second copy of itself as a WebSocket server
//! (`--serve-ceiling`, on its own Tokio runtime in its own process, as the relay is) that
//! answers each send frame with a `sent` frame at once: no authentication, no storage, no
//! delivery, no acks. Its socket settings and its parse of the frame (envelope bodies decoded)
//! are the relay's. The same senders then send the same frames to it as in the peak
//! measurement; the rate they reach is an upper bound on what any relay could sustain for
//! that shape here, and the relay's peak is compared with it.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt as _;
use parley_proto::api::RecipientEnvelopes;
use parley_proto::ws::ServerFrame;
use tokio::io::AsyncBufReadExt as _;

/// The line the server prints when it listens, followed by its base URL.
const LISTENING: &str = "ceiling server listening on ";

/// The relay's socket buffer sizes (`READ_BUFFER`, `WRITE_BUFFER` in
/// `server/src/routes/ws.rs`, which this binary does not link).
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 32 * 1024;
/// Largest frame taken (the load generator's frames are far smaller).
const MAX_FRAME: usize = 1024 * 1024;

/// The fields of a send frame the relay reads (its `FlatFrame`).
#[derive(serde::Deserialize)]
struct SendFrame {
    request: Option<u64>,
    #[allow(
        dead_code,
        reason = "parsed (bodies decoded) as the relay does, then dropped"
    )]
    recipients: Option<Vec<RecipientEnvelopes>>,
}

/// Runs the server on 127.0.0.1 (an ephemeral port), printing its URL, until killed.
pub async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    crate::out(&format!("{LISTENING}http://{addr}\n"))?;
    serve_on(listener).await
}

async fn serve_on(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let app = Router::new().route("/v1/ws", get(upgrade));
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(answer_sends)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Answers every send frame with `sent`; ignores anything else; ends at the first frame it
/// cannot read.
async fn answer_sends(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(SendFrame {
            request: Some(request),
            ..
        }) = serde_json::from_str::<SendFrame>(text.as_str())
        else {
            continue;
        };
        let answer = ServerFrame::Sent {
            request,
            server_timestamp: now_ms(),
            sender_devices: vec![1],
        };
        let Ok(answer) = serde_json::to_string(&answer) else {
            break;
        };
        if socket.send(Message::Text(answer.into())).await.is_err() {
            break;
        }
    }
}

/// The server, started as a child process of the load generator.
pub struct CeilingProcess {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// Process id (its CPU time is measured).
    pub pid: u32,
    _child: tokio::process::Child,
}

impl CeilingProcess {
    /// Starts `parley-loadgen --serve-ceiling` and waits until it listens (killed on drop).
    pub async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("the load generator's own path")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("--serve-ceiling")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the ceiling server")?;
        let pid = child.id().context("ceiling server pid")?;
        let stdout = child.stdout.take().context("ceiling server stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix(LISTENING) {
                    return Ok(rest.trim().to_owned());
                }
            }
            bail!("the ceiling server exited before listening")
        })
        .await
        .context("the ceiling server did not start within 30 s")??;
        Ok(Self {
            url,
            pid,
            _child: child,
        })
    }
}

#[cfg(test)]
mod tests {
    use parley_client::relay::Relay;
    use parley_proto::B64;
    use parley_proto::api::{MultiSendRequest, OutgoingEnvelope};

    use super::*;

    #[tokio::test]
    async fn answers_each_send_with_its_request_number() -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(serve_on(listener));
        let mut socket = Relay::new(url).connect().await?;
        // Anything but a send is ignored: the answers name the sends, in order.
        socket.send_raw(r#"{"type":"ack","ids":[1]}"#).await?;
        for request in [7u64, 8] {
            let recipients = vec![RecipientEnvelopes {
                user: parley_proto::UserId::new("bob")?,
                messages: vec![OutgoingEnvelope {
                    device: 1,
                    registration_id: 1,
                    body: B64(vec![0; 32]),
                }],
            }];
            socket
                .send(
                    request,
                    MultiSendRequest {
                        recipients,
                        ttl_secs: None,
                    },
                )
                .await?;
        }
        for request in [7u64, 8] {
            match socket.next().await {
                Some(Ok(ServerFrame::Sent { request: r, .. })) => assert_eq!(r, request),
                other => anyhow::bail!("expected sent {request}, got {other:?}"),
            }
        }
        Ok(())
    }
}
