//! # parley-cli
//!
//! `parley`, Parley's command-line client, for people, scripts and bots. Each account lives
//! in its own directory (`--home`), so several accounts can run on one machine; its encrypted
//! store's key lives in a 0600 key file outside that directory (`--key-dir`, default
//! `$XDG_DATA_HOME/parley/keys`).
//!
//! The binary is a thin `main` around this library: [`Cli`] is the command line (clap),
//! [`run`] carries out one command and returns its [`Outcome`] or a [`CliError`], and
//! [`output::Output`] is the one place anything is written to stdout or stderr. Each
//! command is a module of [`commands`].
//!
//! ## Output
//!
//! For people, results are plain lines on stdout; warnings, progress bars (only when stderr
//! is a terminal) and errors (`error: <sentence>`) go to stderr.
//!
//! With the global `--json`, stdout carries exactly one JSON object per command (its
//! result), or for `listen` one object per line per event (`{"event": "message", …}`,
//! `{"event": "dropped", …}`). **A failure is also reported on stdout**, as
//! `{"error": {"code": "...", "message": "..."}}` (for `listen`, as its last line), so a
//! script reads one stream and checks the exit code; `code` is the engine's stable
//! snake-case code ([`parley_client::Error::code`]) or one of the CLI's own (`usage`,
//! `no_home`, `output_failed`). Under `--json` stderr carries only diagnostics for people
//! (warnings, `-v` logs) and no progress bar.
//!
//! ## Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done (also `--help`, `--version`, and `listen` stopped by Ctrl-C or SIGTERM) |
//! | 1 | refused: a failure that retrying will not change (unknown user, not an admin, bad invite, not enrolled, …) |
//! | 2 | usage: the command line is wrong (clap's own errors) |
//! | 75 | temporary failure (`EX_TEMPFAIL`): the relay was unreachable or busy, or the recipient's devices kept changing; a message that failed so stays queued and the next `send` or `listen` retries it. `listen` exits 75 when it gives up reconnecting |
//!
//! ## Logs
//!
//! `-v` turns on `tracing` logs of `parley_client` and `parley_cli` on stderr: `-v` info,
//! `-vv` debug, `-vvv` trace. Without it nothing is logged.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use parley_client::store::KeySource;

pub mod backoff;
pub mod commands;
pub mod error;
pub mod output;

pub use error::CliError;
pub use output::{Outcome, Output};

/// The exit code of a command that was done.
pub const EXIT_OK: u8 = 0;
/// The exit code of a refused command: retrying will not change the answer.
pub const EXIT_REFUSED: u8 = 1;
/// The exit code of a wrong command line (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// The exit code of a temporary failure (`EX_TEMPFAIL`): try again later; a message stays
/// queued.
pub const EXIT_TEMPFAIL: u8 = 75;

const AFTER_HELP: &str = "\
Examples:
  parley init-org --relay https://chat.example.com --setup-token T --user alice
  parley invite bob                       # prints an invite to hand to Bob
  parley join 'parley-invite:…'           # on Bob's machine
  parley send bob 'the launch is on Friday'
  parley --json listen --drain            # one JSON object per message, then exit
  parley completions bash > ~/.local/share/bash-completion/completions/parley

Exit codes:
  0   done
  1   refused: retrying will not help (unknown user, not an admin, bad invite, …)
  2   usage: the command line is wrong
  75  temporary failure (relay unreachable or busy): a message stays queued and the
      next send or listen retries it; listen exits 75 when it gives up reconnecting

With --json, stdout carries one JSON object (listen: one per line), and a failure is
{\"error\": {\"code\": …, \"message\": …}} on stdout too.";

/// Parley: end-to-end encrypted messaging for your organisation.
#[derive(Debug, Parser)]
#[command(name = "parley", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The account directory [default: $PARLEY_HOME, else ~/.parley].
    #[arg(long, global = true, env = "PARLEY_HOME")]
    pub home: Option<PathBuf>,
    /// Where the store key file is kept (must be outside --home)
    /// [default: $XDG_DATA_HOME/parley/keys].
    #[arg(long, global = true, env = "PARLEY_KEY_DIR")]
    pub key_dir: Option<PathBuf>,
    /// Print the result as one JSON object on stdout (listen: one per line per event);
    /// errors too, as {"error": {"code", "message"}}.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log to stderr: -v info, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the org on a new relay, with this device as its first admin.
    InitOrg(commands::init_org::Args),
    /// Invite a colleague (admins only); prints the invite to hand over.
    Invite(commands::invite::Args),
    /// Create a one-time code to add another device of yours (run `join` with it there).
    LinkDevice,
    /// Join an org with an invite.
    Join(commands::join::Args),
    /// Show this account.
    Whoami,
    /// Find colleagues in the org's directory (from the signed org log), or show one.
    #[command(subcommand, after_help = commands::directory::AFTER_HELP)]
    Directory(commands::directory::DirectoryCommand),
    /// List a user's devices (default: your own).
    Devices(commands::devices::Args),
    /// Send a text message to a colleague (all their devices, and your other devices) or to a
    /// group (`#<name>` or `#<id>`).
    #[command(after_help = commands::send::AFTER_HELP)]
    Send(commands::send::Args),
    /// Send a file (end-to-end encrypted; the relay stores only ciphertext).
    SendFile(commands::send_file::Args),
    /// Print incoming messages as they arrive, reconnecting when the connection drops;
    /// received files are kept encrypted (`save-file` saves one) or, with --download-dir,
    /// saved there.
    #[command(after_help = commands::listen::AFTER_HELP)]
    Listen(commands::listen::Args),
    /// Who is online among the people you talk to; tell them about yourself.
    #[command(subcommand, after_help = commands::presence::AFTER_HELP)]
    Presence(commands::presence::PresenceCommand),
    /// Your status text ("On holiday"), and your colleagues'.
    #[command(subcommand, after_help = commands::status::AFTER_HELP)]
    Status(commands::status::StatusCommand),
    /// Show or set a conversation's disappearing-message timer (for every member).
    #[command(after_help = commands::disappear::AFTER_HELP)]
    Disappear(commands::disappear::Args),
    /// Show or set when a conversation notifies you: every message, mentions only, or never;
    /// mute for a while. Synced to your other devices.
    #[command(after_help = commands::notify::AFTER_HELP)]
    Notify(commands::notify::Args),
    /// List tasks across your conversations: yours, the ones you handed out, overdue ones.
    #[command(after_help = commands::tasks::LIST_HELP)]
    Tasks(commands::tasks::ListArgs),
    /// Create a task in a conversation, change its status, assignee or deadline, comment.
    #[command(subcommand, after_help = commands::tasks::TASK_HELP)]
    Task(commands::tasks::TaskCommand),
    /// Save a received file (decrypted) into a folder.
    SaveFile(commands::save_file::Args),
    /// Show the conversation with a colleague or a group.
    History(commands::history::Args),
    /// Replace the text of one of your messages (everyone's copy).
    Edit(commands::edit::Args),
    /// Delete one of your messages for everyone.
    Delete(commands::delete::Args),
    /// React to a message with an emoji.
    React(commands::react::Args),
    /// Group conversations.
    #[command(subcommand, after_help = commands::group::AFTER_HELP)]
    Group(commands::group::GroupCommand),
    /// Show the safety number between you and a colleague (changes when either adds or
    /// loses a device).
    SafetyNumber(commands::safety_number::Args),
    /// Administer the org: invite, revoke, dismiss, policy, audit (admins' devices).
    #[command(subcommand, after_help = commands::admin::AFTER_HELP)]
    Admin(commands::admin::AdminCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::Args),
}

/// Where the account is: the command line's `--home` and `--key-dir`, resolved when a
/// command needs them.
#[derive(Debug)]
pub struct Context {
    home: Option<PathBuf>,
    key_dir: Option<PathBuf>,
}

impl Context {
    /// The account directory: `--home`, else `$HOME/.parley`.
    pub fn home(&self) -> Result<PathBuf, CliError> {
        match &self.home {
            Some(h) => Ok(h.clone()),
            None => match std::env::var_os("HOME") {
                Some(home) => Ok(PathBuf::from(home).join(".parley")),
                None => Err(CliError::local(
                    "no_home",
                    "no --home given and $HOME is not set",
                )),
            },
        }
    }

    /// Where the store key is: a key file in `--key-dir`, else in the default key folder.
    pub fn keys(&self) -> Result<KeySource, CliError> {
        match &self.key_dir {
            Some(dir) => Ok(KeySource::key_file_in(dir.clone())),
            None => Ok(KeySource::default_key_file().map_err(parley_client::Error::from)?),
        }
    }
}

/// Carries out `cli`'s command, writing through `out` what it streams (listen, progress);
/// the result is returned for the caller to print with [`Output::outcome`].
pub async fn run(cli: &Cli, out: &Output) -> Result<Outcome, CliError> {
    use commands::*;
    let ctx = Context {
        home: cli.home.clone(),
        key_dir: cli.key_dir.clone(),
    };
    tracing::debug!(command = ?cli.command, "running");
    match &cli.command {
        Command::InitOrg(args) => init_org::run(&ctx, args).await,
        Command::Invite(args) => invite::run(&ctx, args).await,
        Command::LinkDevice => link_device::run(&ctx).await,
        Command::Join(args) => join::run(&ctx, args).await,
        Command::Whoami => whoami::run(&ctx).await,
        Command::Directory(command) => directory::run(&ctx, command).await,
        Command::Devices(args) => devices::run(&ctx, args).await,
        Command::Send(args) => send::run(&ctx, args).await,
        Command::SendFile(args) => send_file::run(&ctx, out, args).await,
        Command::Listen(args) => listen::run(&ctx, out, args).await,
        Command::Notify(args) => notify::run(&ctx, args).await,
        Command::Tasks(args) => tasks::list(&ctx, args).await,
        Command::Task(command) => tasks::run(&ctx, command).await,
        Command::Disappear(args) => disappear::run(&ctx, args).await,
        Command::Presence(command) => presence::run(&ctx, command).await,
        Command::Status(command) => status::run(&ctx, command).await,
        Command::SaveFile(args) => save_file::run(&ctx, out, args).await,
        Command::History(args) => history::run(&ctx, args).await,
        Command::Edit(args) => edit::run(&ctx, args).await,
        Command::Delete(args) => delete::run(&ctx, args).await,
        Command::React(args) => react::run(&ctx, args).await,
        Command::Group(command) => group::run(&ctx, command).await,
        Command::Admin(command) => admin::run(&ctx, command).await,
        Command::SafetyNumber(args) => safety_number::run(&ctx, args).await,
        Command::Completions(args) => completions::run(args, Cli::command()),
    }
}

/// The whole program: parses `args` (the first is the program's name), sets up logging,
/// runs the command, prints its result or error, and gives the exit code.
pub async fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let json = args.iter().skip(1).any(|a| a == "--json");
            return ExitCode::from(output::usage_error(&e, json));
        }
    };
    init_logging(cli.verbose);
    let out = Output::new(cli.json);
    let result = match run(&cli, &out).await {
        Ok(outcome) => out.outcome(&outcome),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            tracing::debug!(error = ?e, "failed");
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// `-v` info, `-vv` debug, `-vvv` trace for the engine's and the CLI's events, on stderr.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::new(format!("parley_client={level},parley_cli={level}"));
    // Fails only if a subscriber is already set (a test calling twice): keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}
