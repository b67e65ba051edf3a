//! A typed client of the relay API (`parley_proto::api`) and its delivery WebSocket
//! (`parley_proto::ws`).

use std::fmt;

use futures_util::{SinkExt as _, StreamExt as _};
use parley_crypto::keys::SigningKeyPair;
use parley_proto::api::{
    AppendRequest, Appended, AttachmentCreated, CreateOrgRequest, DeviceList, Health,
    MultiSendRequest, OrgLog, PreKeyBundles, PreKeyCount, PreKeyUpload, RegisterRequest,
    Registered, SendRequest, SendResponse, UnlockRequest, Unlocked,
};
use parley_proto::ws::{ClientFrame, ServerFrame};
use parley_proto::{B64, DeviceId, ErrorBody, UserId};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// The largest answer read from the relay (a prekey bundle of ten devices is ~50 KiB).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// The largest delivery frame read from the relay (an envelope in base64, with its JSON).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Bytes the delivery socket reads at a time.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Reads an answer's body, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_body(resp: reqwest::Response) -> RelayResult<Vec<u8>> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(RelayError::TooLarge);
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
            return Err(RelayError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay answered with an error body.
    #[error("the relay refused: {} ({status})", body.message)]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The typed body.
        body: Box<ErrorBody>,
    },
    /// The relay answered something that is not the API.
    #[error("unexpected answer from the relay ({status})")]
    Unexpected {
        /// HTTP status.
        status: StatusCode,
    },
    /// Network or TLS failure.
    #[error("cannot reach the relay: {0}")]
    Http(#[from] reqwest::Error),
    /// WebSocket failure.
    #[error("cannot reach the relay (delivery socket): {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// A frame the relay sent could not be parsed.
    #[error("malformed frame from the relay")]
    BadFrame,
    /// The TLS configuration could not be built.
    #[error("TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The relay answered with more than [`MAX_RESPONSE_BYTES`].
    #[error("the relay's answer is too large")]
    TooLarge,
    /// The relay address is not `https://` (plain `http://` is allowed to a loopback address
    /// only, and never with a pin).
    #[error(
        "refusing {0}: the relay must be reached over https (plain http only on loopback, never with a TLS pin)"
    )]
    Insecure(String),
}

impl RelayError {
    /// The error of a send over the delivery socket that the relay refused
    /// ([`ServerFrame::SendFailed`]): the same as the HTTP request's.
    pub fn refused(status: u16, body: ErrorBody) -> Self {
        match StatusCode::from_u16(status) {
            Ok(status) => Self::Api {
                status,
                body: Box::new(body),
            },
            Err(_) => Self::BadFrame,
        }
    }

    /// The error body, for `Api` errors.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            Self::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The HTTP status, when the relay answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Unexpected { status } => Some(*status),
            Self::WebSocket(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                StatusCode::from_u16(response.status().as_u16()).ok()
            }
            _ => None,
        }
    }

    /// Whether the relay refused this device's credentials (401): revoked, signed out, or a
    /// wrong secret.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }
}

/// `Result` with [`RelayError`].
pub type RelayResult<T> = Result<T, RelayError>;

/// A device's credentials.
#[derive(Clone)]
pub struct Credentials {
    /// User.
    pub user: UserId,
    /// Device number.
    pub device: DeviceId,
    /// The 32-byte device secret.
    pub secret: zeroize::Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            user: _,
            device,
            secret: _,
        } = self;
        f.debug_struct("Credentials")
            .field("device", device)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    fn header(&self) -> String {
        let login = format!(
            "{}:{}",
            parley_proto::ids::device_login(&self.user, self.device),
            B64::encode(&self.secret)
        );
        format!("Basic {}", B64::encode(login.as_bytes()))
    }
}

/// A signing key for log proofs; `Debug` shows nothing of it.
#[derive(Clone)]
struct LogKey(std::sync::Arc<SigningKeyPair>);

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogKey(..)")
    }
}

/// A client of one relay, optionally authenticated as one device.
#[derive(Clone, Debug)]
pub struct Relay {
    base: String,
    http: reqwest::Client,
    creds: Option<Credentials>,
    /// The key whose proof `GET /v1/org` carries (`parley_proto::org::LOG_PROOF_HEADER`).
    log_key: Option<LogKey>,
    /// The pinned TLS configuration, shared by HTTP and the WebSocket (`None`: Web PKI).
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Relay {
    /// A client of the relay at `base` (`http://host:port`, or `https://` checked against the
    /// Web PKI roots), not authenticated.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            creds: None,
            log_key: None,
            tls: None,
        }
    }

    /// A client of the relay at `base` that accepts only the TLS certificate whose SHA-256 is
    /// `pin` (see [`crate::tls`]); with `None`, as [`Relay::new`].
    ///
    /// Fails with [`RelayError::Insecure`] for an address that is not `https://`, except
    /// `http://` to a loopback address without a pin: a device secret never crosses a network
    /// in the clear.
    pub fn pinned(
        base: impl Into<String>,
        pins: Option<parley_proto::invite::TlsPins>,
    ) -> RelayResult<Self> {
        let base = base.into();
        let url = reqwest::Url::parse(&base).map_err(|_| RelayError::Insecure(base.clone()))?;
        let loopback = url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        match url.scheme() {
            "https" => {}
            "http" if loopback && pins.is_none() => {}
            _ => return Err(RelayError::Insecure(base)),
        }
        let Some(pins) = pins else {
            return Ok(Self::new(base));
        };
        let tls = crate::tls::client_config(Some(pins))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            creds: None,
            log_key: None,
            tls: Some(tls),
        })
    }

    /// The same relay, authenticated as a device.
    pub fn with_credentials(&self, creds: Credentials) -> Self {
        Self {
            creds: Some(creds),
            ..self.clone()
        }
    }

    /// The same relay, reading the org log with proofs signed by `key` (a device's signing
    /// key, or an invite's one-time key before joining).
    pub fn with_log_key(&self, key: &SigningKeyPair) -> Self {
        Self {
            log_key: Some(LogKey(std::sync::Arc::new(key.clone()))),
            ..self.clone()
        }
    }

    /// The device this client authenticates as.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(c) = &self.creds {
            rb = rb.header(reqwest::header::AUTHORIZATION, c.header());
        }
        rb
    }

    async fn finish<T: DeserializeOwned>(rb: reqwest::RequestBuilder) -> RelayResult<T> {
        let resp = rb.send().await?;
        let status = resp.status();
        let bytes = read_body(resp).await?;
        if status.is_success() {
            let bytes = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            serde_json::from_slice(bytes).map_err(|_| RelayError::Unexpected { status })
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(RelayError::Api {
                    status,
                    body: Box::new(body),
                }),
                Err(_) => Err(RelayError::Unexpected { status }),
            }
        }
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> RelayResult<T> {
        let mut rb = self.request(method, path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        Self::finish(rb).await
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> RelayResult<Health> {
        self.call::<(), _>(Method::GET, "/healthz", None).await
    }

    /// `POST /v1/org`.
    pub async fn create_org(&self, req: &CreateOrgRequest) -> RelayResult<Registered> {
        self.call(Method::POST, "/v1/org", Some(req)).await
    }

    /// `GET /v1/org?since=N`: the org log from entry `since` on, with a proof of the log key
    /// if this client has one ([`Relay::with_log_key`]).
    pub async fn org_log(&self, since: u64) -> RelayResult<OrgLog> {
        let mut rb = self.request(Method::GET, &format!("/v1/org?since={since}"));
        if let Some(LogKey(key)) = &self.log_key {
            let now = crate::orglog::now_secs();
            rb = rb.header(
                parley_proto::org::LOG_PROOF_HEADER,
                parley_proto::org::log_proof(key, now),
            );
        }
        Self::finish(rb).await
    }

    /// `POST /v1/org/receipts`: appends a device's wipe receipt (no credentials needed).
    pub async fn post_receipt(&self, req: &AppendRequest) -> RelayResult<Appended> {
        self.call(Method::POST, "/v1/org/receipts", Some(req)).await
    }

    /// `POST /v1/org/log`: appends a signed entry.
    pub async fn append(&self, req: &AppendRequest) -> RelayResult<Appended> {
        self.call(Method::POST, "/v1/org/log", Some(req)).await
    }

    /// `POST /v1/devices`.
    pub async fn register(&self, req: &RegisterRequest) -> RelayResult<Registered> {
        self.call(Method::POST, "/v1/devices", Some(req)).await
    }

    /// `POST /v1/devices/unlock`: this device's remote secret (no credentials needed).
    pub async fn unlock(&self, req: &UnlockRequest) -> RelayResult<Unlocked> {
        self.call(Method::POST, "/v1/devices/unlock", Some(req))
            .await
    }

    /// `GET /v1/users/{user}/devices`.
    pub async fn devices(&self, user: &UserId) -> RelayResult<DeviceList> {
        self.call::<(), _>(Method::GET, &format!("/v1/users/{user}/devices"), None)
            .await
    }

    /// `PUT /v1/keys`.
    pub async fn upload_prekeys(&self, req: &PreKeyUpload) -> RelayResult<PreKeyCount> {
        self.call(Method::PUT, "/v1/keys", Some(req)).await
    }

    /// `GET /v1/keys/count`.
    pub async fn prekey_count(&self) -> RelayResult<PreKeyCount> {
        self.call::<(), _>(Method::GET, "/v1/keys/count", None)
            .await
    }

    /// `GET /v1/keys/{user}/{device}`; `None` claims for every device.
    pub async fn claim_prekeys(
        &self,
        user: &UserId,
        device: Option<DeviceId>,
    ) -> RelayResult<PreKeyBundles> {
        let device = device.map_or_else(|| "*".to_owned(), |d| d.to_string());
        self.call::<(), _>(Method::GET, &format!("/v1/keys/{user}/{device}"), None)
            .await
    }

    /// `PUT /v1/messages/{user}`.
    pub async fn send(&self, user: &UserId, req: &SendRequest) -> RelayResult<SendResponse> {
        self.call(Method::PUT, &format!("/v1/messages/{user}"), Some(req))
            .await
    }

    /// `POST /v1/messages`: envelopes for several users (a group message), stored all together
    /// or not at all.
    pub async fn send_multi(&self, req: &MultiSendRequest) -> RelayResult<SendResponse> {
        self.call(Method::POST, "/v1/messages", Some(req)).await
    }

    /// `POST /v1/attachments` from a byte stream.
    pub async fn upload_attachment(&self, body: reqwest::Body) -> RelayResult<AttachmentCreated> {
        let rb = self
            .request(Method::POST, "/v1/attachments")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        Self::finish(rb).await
    }

    /// `GET /v1/attachments/{id}`: the response, to be streamed by the caller.
    pub async fn download_attachment(&self, id: &str) -> RelayResult<reqwest::Response> {
        let resp = self
            .request(Method::GET, &format!("/v1/attachments/{id}"))
            .send()
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = read_body(resp).await?;
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(RelayError::Api {
                status,
                body: Box::new(body),
            }),
            Err(_) => Err(RelayError::Unexpected { status }),
        }
    }

    /// Opens the delivery socket (`GET /v1/ws`).
    pub async fn connect(&self) -> RelayResult<Delivery> {
        let url = format!("{}/v1/ws", self.base.replacen("http", "ws", 1));
        let mut req = url.into_client_request()?;
        if let Some(c) = &self.creds
            && let Ok(v) = c.header().parse()
        {
            req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
        }
        let tls = match &self.tls {
            Some(tls) => tls.clone(),
            None => crate::tls::client_config(None)?,
        };
        let connector = tokio_tungstenite::Connector::Rustls(tls);
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME_BYTES))
            .max_frame_size(Some(MAX_FRAME_BYTES))
            // tungstenite zeroes its read buffer's free space before every read (including
            // the one that finds the socket empty): at its default of 128 KiB that was a
            // quarter of the load generator's CPU time. Larger frames still arrive whole, in
            // several reads.
            .read_buffer_size(READ_BUFFER_BYTES);
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            req,
            Some(config),
            // TCP_NODELAY: acks are small frames; with Nagle's algorithm each would wait for
            // the relay's (delayed) acknowledgement of the previous one.
            true,
            Some(connector),
        )
        .await?;
        Ok(Delivery { ws })
    }
}

/// An open delivery socket.
#[derive(Debug)]
pub struct Delivery {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Delivery {
    /// The next frame from the relay; `None` when the socket closed.
    pub async fn next(&mut self) -> Option<RelayResult<ServerFrame>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => {
                    return Some(
                        ServerFrame::from_json(t.as_str()).map_err(|_| RelayError::BadFrame),
                    );
                }
                Ok(Message::Close(_)) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// Acknowledges envelopes (after storing what they carried).
    pub async fn ack(&mut self, ids: Vec<i64>) -> RelayResult<()> {
        let text =
            serde_json::to_string(&ClientFrame::Ack { ids }).map_err(|_| RelayError::BadFrame)?;
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends envelopes over the socket, as `POST /v1/messages` would (see
    /// [`ClientFrame::Send`]). The answer comes from [`Delivery::next`]: a
    /// [`ServerFrame::Sent`] or [`ServerFrame::SendFailed`] naming `request` (which
    /// [`RelayError::refused`] turns into the error the HTTP request would give). Several
    /// sends may be in flight; they are stored in the order sent.
    pub async fn send(&mut self, request: u64, req: MultiSendRequest) -> RelayResult<()> {
        let text = ClientFrame::send_json(request, &req.recipients);
        self.ws.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends raw text (for tests of the relay's handling of bad frames).
    pub async fn send_raw(&mut self, text: &str) -> RelayResult<()> {
        self.ws.send(Message::Text(text.to_owned().into())).await?;
        Ok(())
    }

    /// Closes the socket and waits (at most 2 s) for the relay's answer, which it sends once
    /// the acks sent before have been written: a device that reconnects after `close` is not
    /// sent again what it acked. Frames still arriving meanwhile are dropped (unacked, they
    /// come again on the next connection).
    pub async fn close(mut self) {
        if self.ws.close(None).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_and_never_with_a_pin() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://localhost:1",
            "http://[::1]:8787/",
            "https://relay.example.com",
        ] {
            assert!(Relay::pinned(ok, None).is_ok(), "{ok}");
        }
        assert!(
            Relay::pinned(
                "https://10.1.2.3:8443",
                Some(parley_proto::invite::TlsPins::new([1; 32]))
            )
            .is_ok()
        );
        for bad in [
            "http://10.1.2.3:8787",
            "http://relay.example.com",
            "ws://127.0.0.1:8787",
            "not a url",
        ] {
            assert!(
                matches!(Relay::pinned(bad, None), Err(RelayError::Insecure(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Relay::pinned(
                "http://127.0.0.1:8787",
                Some(parley_proto::invite::TlsPins::new([1; 32]))
            ),
            Err(RelayError::Insecure(_))
        ));
    }
}
