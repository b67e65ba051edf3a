//! `parley completions <shell>`: the shell completion script, from `clap_complete`.

use clap_complete::Shell;
use serde::Serialize;

use crate::{CliError, Outcome};

/// `completions`' arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  parley completions bash > ~/.local/share/bash-completion/completions/parley
  parley completions zsh > ~/.zfunc/_parley
  parley completions fish > ~/.config/fish/completions/parley.fish")]
pub struct Args {
    /// The shell.
    pub shell: Shell,
}

/// `{"shell": "bash", "script": "…"}`.
#[derive(Debug, Serialize)]
struct Script {
    shell: String,
    script: String,
}

/// Generates the script for `command` (the whole CLI).
pub fn run(args: &Args, mut command: clap::Command) -> Result<Outcome, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "parley", &mut script);
    let script = String::from_utf8(script)
        .map_err(|_| CliError::local("output_failed", "the completion script is not UTF-8"))?;
    let json = Script {
        shell: args.shell.to_string(),
        script: script.clone(),
    };
    Outcome::new(&json, script)
}
