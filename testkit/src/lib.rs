//! What the relay's tests (`server/tests`), the end-to-end tests (`parley-e2e`) and the load
//! generator share: a fresh PostgreSQL database per test ([`pg`]), and an org bootstrapped on
//! a relay through its HTTP API with devices registered as a client registers them ([`org`]).
//!
//! Nothing here panics: every helper returns an error, which a test unwraps and the load
//! generator reports.

pub mod org;
pub mod pg;

/// `N` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
    Ok(out)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
