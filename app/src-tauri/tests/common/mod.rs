//! The harness of the app's end-to-end tests: the real app, built by Cargo, driven through
//! WebDriver (`tauri-driver` in front of Debian's `WebKitWebDriver`) in the X display the
//! tests run in (`xvfb-run` in CI), against a real `parley-server`, with `parley` CLI users on
//! the other side.
//!
//! The native file dialogs (GTK) are outside the WebView, where WebDriver cannot reach: they
//! are answered with `xdotool`, as a person would type a path into them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use parley_e2e::{Backend, SETUP_TOKEN, Server, binaries};

/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the UI lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A CLI user: an account directory and its key folder.
pub struct CliUser {
    pub dir: tempfile::TempDir,
}

impl CliUser {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `parley` as this user; panics with its stderr if it fails.
    pub async fn run(&self, args: &[&str]) -> String {
        let out = self.try_run(args).await;
        assert!(
            out.status.success(),
            "parley {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `parley` as this user.
    pub async fn try_run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(&binaries().1)
            .arg("--home")
            .arg(self.dir.path().join("home"))
            .arg("--key-dir")
            .arg(self.dir.path().join("keys"))
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }

    /// `parley --json history WITH`: (author, text, edited) of each line.
    pub async fn history(&self, with: &str) -> Vec<(String, String, bool)> {
        let out = self.run(&["--json", "history", with]).await;
        let v: Value = serde_json::from_str(&out).unwrap();
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["author"].as_str().unwrap().to_owned(),
                    m["text"].as_str().unwrap().to_owned(),
                    m["edited"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

/// A relay with an org whose first admin, `alice`, is a CLI user.
pub async fn org() -> (Server, CliUser) {
    let server = Server::start(Backend::Sqlite).await;
    let alice = CliUser::new();
    alice
        .run(&[
            "init-org",
            "--relay",
            &server.url,
            "--setup-token",
            SETUP_TOKEN,
            "--user",
            "alice",
            "--org-name",
            "Acme Bank",
        ])
        .await;
    (server, alice)
}

/// `admin invite` by `admin`: the invite text.
pub async fn invite(admin: &CliUser, user: &str, name: &str, role: &str) -> String {
    let out = admin
        .run(&[
            "--json",
            "admin",
            "invite",
            user,
            "--name",
            name,
            "--title",
            "Analyst",
            "--department",
            "Risk",
            "--role",
            role,
        ])
        .await;
    let v: Value = serde_json::from_str(&out).unwrap();
    v["invite"].as_str().unwrap().to_owned()
}

/// A CLI user who joined with an invite from `admin`.
pub async fn cli_colleague(admin: &CliUser, user: &str, name: &str) -> CliUser {
    let text = invite(admin, user, name, "member").await;
    let u = CliUser::new();
    u.run(&["join", &text]).await;
    u
}

/// A free TCP port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/var/cache/parley-ci/tools/bin")])
    {
        let p = dir.join("tauri-driver");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "tauri-driver not found: `cargo install tauri-driver --version ^2 --locked` (or set TAURI_DRIVER)"
    );
}

/// The running app, driven through a WebDriver session.
pub struct App {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: tokio::process::Child,
    /// The app's account directory (`PARLEY_HOME`) and key folder live in here.
    pub data: tempfile::TempDir,
}

impl App {
    /// The account directory.
    pub fn home(&self) -> PathBuf {
        self.data.path().join("account")
    }

    /// Starts the app (a fresh account directory) with `env` added to its environment.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with_args(env, &[]).await
    }

    /// [`App::start`], with `args` on the app's command line (as the desktop passes a
    /// `parley-invite:` link it opens).
    pub async fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> Self {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the app's end-to-end tests need an X display: run them under xvfb-run"
        );
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let native = free_port();
        let mut cmd = tokio::process::Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("PARLEY_HOME", data.path().join("account"))
        .env("PARLEY_KEY_DIR", data.path().join("keys"))
        .env("XDG_DATA_HOME", data.path().join("xdg"))
        .env("XDG_CONFIG_HOME", data.path().join("xdg-config"))
        .env("XDG_CACHE_HOME", data.path().join("xdg-cache"))
        // GLib's settings in memory: no D-Bus session here for dconf.
        .env("GSETTINGS_BACKEND", "memory")
        // Its own process group, so that WebKitWebDriver and the app, which it starts, end
        // with it (`App::stop_driver`); and no inherited output, which would keep the test's
        // pipe open through them.
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(data.path().join("driver.log")).unwrap())
        .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = cmd.spawn().unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": env!("CARGO_BIN_EXE_parley-app"), "args": args}
        }}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        Self {
            http,
            base,
            session,
            driver,
            data,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    /// Runs a script in the page; `args` may hold element references from [`App::find`].
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Every element matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Vec<Value> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| a.iter().map(|e| json!({ELEMENT: e[ELEMENT]})).collect())
            .unwrap_or_default()
    }

    /// Waits for an element matching `css` and returns it.
    pub async fn find(&self, css: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if Instant::now() > deadline {
                let body = self.script("return document.body.innerText", vec![]).await;
                panic!("no element {css} appeared; the page says: {body}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.find_all(css).await.is_empty() {
            assert!(Instant::now() < deadline, "{css} is still there");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// `[data-testid="id"]` plus `rest` (attribute selectors).
    pub fn id(id: &str, rest: &str) -> String {
        format!("[data-testid=\"{id}\"]{rest}")
    }

    /// Waits until `check(text of the first element matching css)` holds; returns the text.
    pub async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = match self.find_all(css).await.into_iter().next() {
                Some(e) => self.text(&e).await,
                None => String::new(),
            };
            if check(&text) {
                return text;
            }
            if Instant::now() > deadline {
                let body = self.script("return document.body.innerText", vec![]).await;
                panic!(
                    "{css} never said what was expected (last: {text:?}); the page says: {body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the page's visible text contains `needle`.
    pub async fn wait_page(&self, needle: &str) {
        self.wait_text("body", |t| t.contains(needle)).await;
    }

    /// An element's visible text.
    pub async fn text(&self, e: &Value) -> String {
        self.script("return arguments[0].innerText", vec![e.clone()])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// An element's attribute.
    pub async fn attr(&self, e: &Value, name: &str) -> Option<String> {
        self.script(
            "return arguments[0].getAttribute(arguments[1])",
            vec![e.clone(), json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Clicks an element (through the DOM, so that controls shown on hover are reachable).
    pub async fn click(&self, e: &Value) {
        self.script(
            "arguments[0].scrollIntoView({block: 'nearest'}); arguments[0].click()",
            vec![e.clone()],
        )
        .await;
    }

    /// Clicks the control `testid` inside the element `parent` (a message's action, a
    /// device's button).
    pub async fn click_in(&self, parent: &Value, testid: &str) {
        let e = self
            .script(
                "return arguments[0].querySelector(`[data-testid=\"${arguments[1]}\"]`)",
                vec![parent.clone(), json!(testid)],
            )
            .await;
        assert!(!e.is_null(), "no {testid} in the element");
        self.click(&e).await;
    }

    /// Empties a text field as a person selecting all and deleting would.
    pub async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.script(
            "const t = arguments[0]; \
             const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(t), 'value').set; \
             set.call(t, ''); t.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![e],
        )
        .await;
    }

    /// Waits for `css` and clicks it.
    pub async fn click_on(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    /// Types `text` into an element as keystrokes (`\u{E007}` is Enter).
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        let id = e[ELEMENT].as_str().unwrap().to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Selects `value` in a `<select>`.
    pub async fn select(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        self.script(
            "const s = arguments[0]; \
             const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set; \
             set.call(s, arguments[1]); s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![e, json!(value)],
        )
        .await;
    }

    /// A PNG of the window, written to `path`, once the page has painted what it shows.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        self.script(
            "return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))",
            vec![],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Ends the session (the app exits) and stops the driver.
    pub async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        // `Drop` stops the driver and what it started.
    }

    /// Stops tauri-driver and everything in its process group (WebKitWebDriver, the app).
    fn stop_driver(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop_driver();
    }
}

/// Answers the native file dialog that is opening with `path`, typed as a person would.
pub async fn answer_file_dialog(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    let window = loop {
        let out = tokio::process::Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "Open|Select|Choose"])
            .output()
            .await
            .expect("xdotool (Debian package xdotool) is installed");
        let ids = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(id) = ids.lines().last().filter(|l| !l.trim().is_empty()) {
            break id.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no file dialog opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let xdo = |args: Vec<String>| async move {
        let st = tokio::process::Command::new("xdotool")
            .args(&args)
            .status()
            .await
            .unwrap();
        assert!(st.success(), "xdotool {args:?}");
    };
    xdo(vec!["windowfocus".into(), "--sync".into(), window.clone()]).await;
    xdo(vec!["key".into(), "ctrl+l".into()]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    xdo(vec![
        "type".into(),
        "--delay".into(),
        "15".into(),
        path.display().to_string(),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    xdo(vec!["key".into(), "Return".into()]).await;
}

/// Where the tests put their screenshots: `$PARLEY_SCREENSHOTS`, else the target folder.
pub fn screenshots() -> PathBuf {
    std::env::var_os("PARLEY_SCREENSHOTS").map_or_else(
        || {
            Path::new(env!("CARGO_BIN_EXE_parley-app"))
                .parent()
                .unwrap()
                .join("screenshots")
        },
        PathBuf::from,
    )
}

/// A PNG of a small bar chart (240×140), for the image-preview test: encoded here with
/// uncompressed deflate blocks, which every PNG decoder reads.
pub fn chart_png() -> Vec<u8> {
    const W: usize = 240;
    const H: usize = 140;
    let bars = [40usize, 75, 60, 110, 95, 125];
    let mut raw = Vec::with_capacity(H * (1 + W * 3));
    for y in 0..H {
        raw.push(0); // no filter
        for x in 0..W {
            let bar = (x.saturating_sub(12)) / 38;
            let in_bar = x >= 12 && (x - 12) % 38 < 26 && bar < bars.len();
            let px = if in_bar && H - y <= bars[bar] {
                [59, 74, 190]
            } else if y == H - 1 || y % 35 == 0 {
                [210, 214, 224]
            } else {
                [250, 250, 252]
            };
            raw.extend_from_slice(&px);
        }
    }
    // zlib: header, stored blocks of at most 65,535 bytes, Adler-32.
    let mut z = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(c) = chunks.next() {
        z.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(W as u32).to_be_bytes());
    ihdr.extend_from_slice(&(H as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &z);
    chunk(b"IEND", &[]);
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
