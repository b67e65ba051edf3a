//! Starting the relay under test (the `parley-server` binary next to this one) on a fresh
//! SQLite directory or a fresh PostgreSQL database, and reading its resident memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::AsyncBufReadExt as _;

/// The database a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The SQLite file (the relay's default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// Name for the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A relay process started by the load generator.
#[derive(Debug)]
pub struct RelayProcess {
    /// `http://127.0.0.1:port`.
    pub url: String,
    child: tokio::process::Child,
    /// Process id.
    pub pid: u32,
}

/// Settings of a spawned relay.
#[derive(Debug)]
pub struct Spawn<'a> {
    /// The `parley-server` binary.
    pub bin: &'a Path,
    /// Fresh data directory.
    pub data_dir: &'a Path,
    /// PostgreSQL URL, or `None` for SQLite.
    pub database_url: Option<&'a str>,
    /// The setup token to pass in `PARLEY_SETUP_TOKEN`.
    pub setup_token: &'a str,
}

impl RelayProcess {
    /// Starts the relay and waits until it listens.
    pub async fn start(s: &Spawn<'_>) -> anyhow::Result<Self> {
        let mut cmd = tokio::process::Command::new(s.bin);
        cmd.arg("--data-dir")
            .arg(s.data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0");
        cmd.env_remove("PARLEY_DATABASE_URL")
            .env_remove("PARLEY_CONFIG")
            .env("PARLEY_SETUP_TOKEN", s.setup_token)
            // The rate limiter is not what is measured.
            .env("PARLEY_RATE_PER_SEC", "1000000000")
            .env("PARLEY_RATE_BURST", "1000000000")
            .env("PARLEY_IP_RATE_PER_SEC", "1000000000")
            .env("PARLEY_IP_RATE_BURST", "1000000000")
            .env("PARLEY_LOG", "warn");
        if let Some(url) = s.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", s.bin.display()))?;
        let pid = child.id().context("relay pid")?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("parley-server listening on ") {
                    return Ok(rest.trim().to_owned());
                }
            }
            bail!("parley-server exited before listening")
        })
        .await
        .context("parley-server did not start within 60 s")??;
        // Keep draining stdout so the relay never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { url, child, pid })
    }

    /// SIGTERM, then wait for exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// `VmRSS` of a process, bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS line")?
        .parse()?;
    Ok(kib * 1024)
}

/// CPU time (user + system, all threads) a process has used, seconds: `utime` + `stime` of
/// `/proc/<pid>/stat` (`pid` `None`: this process), in the kernel's fixed 100 ticks/s.
pub fn cpu_secs(pid: Option<u32>) -> anyhow::Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path)?;
    // The command name (field 2) may hold spaces; the fields after it follow its ')'.
    let rest = stat.rsplit_once(')').context("bad stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state (field 3).
    let tick = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short stat line")?.parse::<u64>()? as f64 / 100.0)
    };
    Ok(tick(11)? + tick(12)?)
}

/// The `parley-server` binary next to this executable.
pub fn default_server_bin() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("executable has no folder")?;
    Ok(dir.join("parley-server"))
}

/// Soft limit on open files of this process (inherited by the relay it spawns).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
