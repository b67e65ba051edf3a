//! The org root key outside the device (docs/architecture.md §2.1): `parley admin
//! export-root-key` seals it into a passphrase-protected recovery file (and, with `--remove`,
//! deletes it from this device), `import-root-key` puts it back, and `appoint`,
//! `remove-admin` and `invite --role admin` take `--root-key FILE` to sign with it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use parley_client::messaging::Messenger;
use parley_crypto::keys::SigningKeyPair;
use parley_crypto::recovery::RootKeyFile;
use zeroize::Zeroizing;

use crate::{CliError, Outcome};

/// Where a passphrase comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct Passphrase {
    /// Read the passphrase from the first line of this file (for scripts) instead of asking
    /// on the terminal.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl Passphrase {
    /// The passphrase: from the file, or asked on the terminal without echo (twice when
    /// `confirm`, for a new file).
    fn read(&self, confirm: bool) -> Result<Zeroizing<String>, CliError> {
        if let Some(path) = &self.passphrase_file {
            let file = std::fs::File::open(path).map_err(|e| {
                CliError::local(
                    "passphrase_file",
                    format!("cannot read the passphrase file: {e}"),
                )
            })?;
            let mut line = Zeroizing::new(String::new());
            std::io::BufReader::new(file)
                .read_line(&mut line)
                .map_err(|e| {
                    CliError::local(
                        "passphrase_file",
                        format!("cannot read the passphrase file: {e}"),
                    )
                })?;
            return Ok(Zeroizing::new(
                line.trim_end_matches(['\r', '\n']).to_owned(),
            ));
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::local(
                "passphrase_needed",
                "no terminal to ask the passphrase on: give --passphrase-file",
            ));
        }
        let ask = |prompt: &str| {
            rpassword::prompt_password(prompt)
                .map(Zeroizing::new)
                .map_err(|e| {
                    CliError::local(
                        "passphrase_needed",
                        format!("cannot read the passphrase: {e}"),
                    )
                })
        };
        let first = ask("Passphrase for the root key file: ")?;
        if confirm && *ask("The same passphrase again: ")? != *first {
            return Err(CliError::local(
                "passphrase_mismatch",
                "the two passphrases differ: nothing was written",
            ));
        }
        Ok(first)
    }
}

fn read_file(path: &Path) -> Result<RootKeyFile, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::local(
            "root_key_file",
            format!("cannot read the root key file: {e}"),
        )
    })?;
    Ok(RootKeyFile::from_text(&text).map_err(parley_client::Error::from)?)
}

/// The root key from `path`, opened with the passphrase and checked against the org log;
/// `None` without a path (the engine then uses the key in the store).
pub async fn from_file(
    m: &Messenger,
    path: Option<&Path>,
    passphrase: &Passphrase,
) -> Result<Option<SigningKeyPair>, CliError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file = read_file(path)?;
    let pass = passphrase.read(false)?;
    Ok(Some(m.open_root_key(&file, &pass).await?))
}

/// `admin export-root-key FILE [--remove]`.
pub async fn export(
    m: &Messenger,
    path: &Path,
    remove: bool,
    passphrase: &Passphrase,
) -> Result<Outcome, CliError> {
    if !m.holds_root_key().await? {
        return Err(parley_client::Error::NoRootKey.into());
    }
    let pass = passphrase.read(true)?;
    let file = m.export_root_key(&pass).await?;
    write_new(path, file.to_text().as_bytes())?;
    // Read back what reached the disk, and open it, before anything is removed.
    let written = read_file(path)?;
    m.open_root_key(&written, &pass).await?;
    if remove {
        m.remove_root_key(&written, &pass).await?;
    }
    let human = if remove {
        format!(
            "Wrote the org root key to {} and removed it from this device.\n\
             Keep the file and its passphrase apart, offline. Appointing or removing an admin \
             now needs `--root-key {}`.\n",
            path.display(),
            path.display()
        )
    } else {
        format!(
            "Wrote the org root key to {}. It is still on this device too \
             (`--remove` deletes it here).\n",
            path.display()
        )
    };
    Outcome::new(
        &serde_json::json!({"exported": path.display().to_string(), "removed": remove}),
        human,
    )
}

/// `admin import-root-key FILE`.
pub async fn import(
    m: &Messenger,
    path: &Path,
    passphrase: &Passphrase,
) -> Result<Outcome, CliError> {
    let file = read_file(path)?;
    let pass = passphrase.read(false)?;
    m.import_root_key(&file, &pass).await?;
    Outcome::new(
        &serde_json::json!({"imported": true}),
        "This device now holds the org root key.\n".to_owned(),
    )
}

/// Writes a new file readable by its owner only; never replaces one.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let fail = |e: std::io::Error| {
        CliError::local(
            "root_key_file",
            format!("cannot write the root key file: {e}"),
        )
    };
    let mut f = options.open(path).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)
}
