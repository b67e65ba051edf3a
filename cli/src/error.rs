//! The CLI's error: the engine's [`parley_client::Error`] with what it means for the user
//! (whether a message stays queued), or one of the CLI's own. Each has a stable code, a
//! sentence, and an exit code (see the crate docs).

use std::time::Duration;

use parley_client::ErrorInfo;

use crate::{EXIT_REFUSED, EXIT_TEMPFAIL};

/// What a user is told after a temporary failure of a command that queued a message.
pub const QUEUED: &str =
    "not sent yet: the message stays queued and the next send or listen retries it";

/// A failed command.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The engine failed.
    Engine {
        /// Its error.
        error: parley_client::Error,
        /// Whether the command had queued a message that stays in the outbox (said on a
        /// temporary failure).
        queued: bool,
    },
    /// `listen` gave up reconnecting.
    GaveUp {
        /// The last attempt's error.
        error: parley_client::Error,
        /// Attempts made since the connection was lost.
        attempts: u32,
        /// Time since the connection was lost.
        after: Duration,
    },
    /// A failure of the CLI itself (no home directory, stdout closed, …).
    Local {
        /// Stable code.
        code: &'static str,
        /// A sentence.
        message: String,
    },
}

impl CliError {
    /// A failure of the CLI itself.
    pub fn local(code: &'static str, message: impl Into<String>) -> Self {
        Self::Local {
            code,
            message: message.into(),
        }
    }

    /// Marks an engine error of a command that queued a message: on a temporary failure the
    /// user is told it stays queued.
    pub fn queued(error: parley_client::Error) -> Self {
        Self::Engine {
            error,
            queued: true,
        }
    }

    /// The stable code (the engine's, or the CLI's own).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Engine { error, .. } | Self::GaveUp { error, .. } => error.code(),
            Self::Local { code, .. } => code,
        }
    }

    /// Whether trying again later may succeed ([`parley_client::Error::is_temporary`]).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Engine { error, .. } => error.is_temporary(),
            Self::GaveUp { .. } => true,
            Self::Local { .. } => false,
        }
    }

    /// The process exit code: 75 for a temporary failure, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.is_temporary() {
            EXIT_TEMPFAIL
        } else {
            EXIT_REFUSED
        }
    }

    /// The `{code, message}` pair, as `--json` prints it.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Engine { error, queued } => {
                write!(f, "{error}")?;
                if *queued && error.is_temporary() {
                    write!(f, "; {QUEUED}")?;
                }
                Ok(())
            }
            Self::GaveUp {
                error,
                attempts,
                after,
            } => write!(
                f,
                "gave up reconnecting after {attempts} attempt(s) in {:.1} s: {error}",
                after.as_secs_f64()
            ),
            Self::Local { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

impl From<parley_client::Error> for CliError {
    fn from(error: parley_client::Error) -> Self {
        Self::Engine {
            error,
            queued: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_engines_kinds() {
        assert_eq!(
            CliError::from(parley_client::Error::NoSuchUser).exit_code(),
            1
        );
        assert_eq!(
            CliError::from(parley_client::Error::ConnectionClosed).exit_code(),
            75
        );
        assert_eq!(CliError::local("no_home", "x").exit_code(), 1);
        let gave_up = CliError::GaveUp {
            error: parley_client::Error::ConnectionClosed,
            attempts: 3,
            after: Duration::from_secs(2),
        };
        assert_eq!(gave_up.exit_code(), 75);
        assert_eq!(gave_up.code(), "connection_closed");
    }

    #[test]
    fn a_queued_message_is_said_only_on_a_temporary_failure() {
        let temp = CliError::queued(parley_client::Error::DevicesChanging);
        assert!(temp.to_string().ends_with(QUEUED), "{temp}");
        let refused = CliError::queued(parley_client::Error::NoSuchUser);
        assert!(!refused.to_string().contains("queued"), "{refused}");
        assert_eq!(refused.info().code, "no_such_user");
    }
}
