//! The engine's one error type (docs/architecture.md §8): every fallible call of
//! `parley-client` returns [`Error`], in kinds a caller can act on.
//!
//! - **Try again later**: [`Error::Unreachable`], [`Error::DevicesChanging`],
//!   [`Error::ConnectionClosed`] ([`Error::is_temporary`]). A message whose send failed this
//!   way stays in the outbox and is retried.
//! - **Refused**: [`Error::Refused`] (the relay said no), [`Error::NoSuchUser`],
//!   [`Error::NoSuchGroup`], [`Error::NotAMember`], [`Error::TooLarge`], … — retrying
//!   the same call will not help.
//! - **Not trusted**: [`Error::Trust`] and [`Error::RelayMisbehaved`]: the relay or a peer
//!   presented something that does not verify; nothing of it was used.
//! - **Local**: [`Error::Store`] (with [`Error::is_store_locked`] for a missing or wrong key),
//!   [`Error::File`], [`Error::NotEnrolled`].
//! - **Refused content**: [`Error::Rejected`]: an envelope that cannot be decrypted or read,
//!   or whose content its sender may not send. The event stream reports it as
//!   [`crate::messaging::Event::Dropped`].
//!
//! Each error has a stable [`Error::code`] (snake case) for scripts and for the app's
//! `{code, message}`; [`ErrorInfo`] is that pair. Crypto and store errors keep their cause.
//! `Display` is a sentence for people and never holds keys, message contents or user ids.

use std::io;

use crate::relay::RelayError;
use crate::store::StoreError;
use parley_proto::ErrorCode;

/// Everything that can go wrong in the engine. See the [module docs](self).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The relay cannot be reached now (network, TLS, a timeout, or the relay said it is
    /// unavailable, rate-limited us, or the recipient's queue is full). Temporary.
    #[error("{0}")]
    Unreachable(#[source] Box<RelayError>),
    /// The relay refused the request for a reason retrying will not change.
    #[error("{0}")]
    Refused(#[source] Box<RelayError>),
    /// The relay answered something that is not the API, or broke its rules.
    #[error("the relay misbehaved: {0}")]
    RelayMisbehaved(Misbehaviour),
    /// A relay URL that would be reached without TLS off the loopback, or with a pin over
    /// plain HTTP.
    #[error("{0}")]
    InsecureRelay(#[source] Box<RelayError>),
    /// The relay closed the delivery connection (it is shutting down, or the connection
    /// dropped). Temporary.
    #[error("the relay closed the connection")]
    ConnectionClosed,
    /// Another connection of this device took over the delivery socket (a second `listen`
    /// or app on the same account). Not temporary: reconnecting would take it back.
    #[error("another connection of this device took over delivery")]
    ConnectionReplaced,
    /// The recipient's devices changed again during every attempt of a send. Temporary: the
    /// message stays queued.
    #[error("the recipient's devices kept changing; the message stays queued")]
    DevicesChanging,
    /// A key, identity or signature did not verify: nothing of it was used.
    #[error("trust failure: {0}")]
    Trust(TrustFailure),
    /// The local store failed (database, key, files); the cause is kept.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store lacks a record an enrolled account always has (damaged store).
    #[error("the local store has no {0}: it is damaged or from an unfinished enrolment")]
    Missing(Missing),
    /// This account directory holds no enrolled account.
    #[error("this account is not enrolled (run `parley join` or `parley init-org`)")]
    NotEnrolled,
    /// The recipient does not exist, or has no device.
    #[error("no such user (or the user has no device)")]
    NoSuchUser,
    /// No group matches.
    #[error("no such group")]
    NoSuchGroup,
    /// Several groups match a name.
    #[error("several groups match; give the group id (`parley group list`)")]
    AmbiguousGroup,
    /// This user is not a member of the group.
    #[error("you are not a member of this group")]
    NotAMember,
    /// No task has that id (or id prefix).
    #[error("no such task (`parley tasks --all` lists them)")]
    NoSuchTask,
    /// Several tasks start with that id prefix.
    #[error("several tasks start with that id; give more of it")]
    AmbiguousTask,
    /// A task's assignee must be in its conversation.
    #[error("the assignee is not in this conversation")]
    AssigneeNotMember,
    /// No message with that id carries a file.
    #[error("no such file (no message with that id carries one)")]
    NoSuchFile,
    /// Only an admin of the group may change it (anyone may leave).
    #[error("only an admin of the group may change it")]
    NotGroupAdmin,
    /// The message is over a size limit.
    #[error("the message is over a size limit")]
    TooLarge,
    /// A group the directory makes (a department, the company channel) follows the signed
    /// directory; nobody changes its members by hand.
    #[error("this group follows the directory: change a colleague's department instead")]
    DirectoryGroup,
    /// Only the org's admins and appointed posters post in the company channel, and only a
    /// group's admins in an announcement channel.
    #[error("only the channel's admins post here; you can react")]
    NotAPoster,
    /// A disappearing-message timer longer than the org's policy allows.
    #[error("the org's policy lets messages last at most {max_secs} seconds")]
    OverPolicy {
        /// The policy's maximum, in seconds.
        max_secs: u64,
    },
    /// A received envelope was refused (see [`Rejection`]).
    #[error("{0}")]
    Rejected(Rejection),
    /// Encryption failed (a bug or an exhausted counter); the cause is kept.
    #[error("encryption failed: {0}")]
    Crypto(#[source] parley_crypto::Error),
    /// The invite or link code is damaged.
    #[error("the invite is not valid: {0}")]
    Invite(#[from] parley_proto::invite::InviteError),
    /// The invite or link code is not (or no longer) valid in the org log: unknown, used,
    /// expired, or its user dismissed.
    #[error("the invite is unknown, used or expired")]
    InviteUnusable,
    /// The org log revoked this device (lost, signed out, replaced, or its user dismissed):
    /// the relay no longer accepts it. It can come back only as a new device.
    #[error(
        "this device was signed out by your administrator ({}); to use Parley here again, join with a new invite or link code",
        .0.as_str()
    )]
    DeviceRevoked(parley_proto::org::RevokeReason),
    /// An administrator ordered this device wiped, and it was: the store key is destroyed and
    /// Parley's files in the account directory deleted. `receipt` says whether the signed
    /// receipt reached the relay.
    #[error("this device was wiped by your administrator; nothing of the account is left here")]
    Wiped {
        /// Whether the receipt was delivered.
        receipt: bool,
    },
    /// The org's policy limits how long a device may go without reaching the relay; this one
    /// went longer and is locked until it reaches the relay again. Temporary.
    #[error(
        "this device has been out of touch with the relay for too long and is locked until it reaches it again"
    )]
    OfflineLocked,
    /// This device went longer without reaching the relay than the org's policy allows
    /// before a wipe, and wiped itself: its store key is destroyed and its files deleted.
    #[error(
        "this device was out of touch with the relay for longer than your organisation allows and has wiped itself"
    )]
    OfflineWiped,
    /// The org's policy makes this device fetch its remote secret from the relay before its
    /// store opens, and the relay cannot be reached now. Temporary.
    #[error(
        "your organisation requires this device to reach the relay before the account opens, and the relay cannot be reached now"
    )]
    RelayRequired,
    /// The relay no longer holds this device's remote secret: the device was revoked, and
    /// what it stored can no longer be opened.
    #[error(
        "this device was signed out by your administrator and its stored data can no longer be opened; to use Parley here again, join with a new invite or link code"
    )]
    RemoteSecretGone,
    /// Only an admin's device may do this.
    #[error("only an administrator's device may do this")]
    NotAdmin,
    /// Only the org root key may do this (appoint or remove admins), and this device does not
    /// hold it.
    #[error("this needs the org root key, which this device does not hold")]
    NoRootKey,
    /// A root key recovery file that does not open (see [`RecoveryError`]).
    ///
    /// [`RecoveryError`]: parley_crypto::recovery::RecoveryError
    #[error("{0}")]
    RootKeyFile(#[from] parley_crypto::recovery::RecoveryError),
    /// The root key file holds another org's root key.
    #[error("this root key file belongs to another organisation")]
    ForeignRootKey,
    /// The relay's org log does not verify against the genesis hash the account trusts.
    #[error("the relay's org log does not verify: {0}")]
    OrgLog(#[from] parley_proto::org::OrgError),
    /// A user id is not valid.
    #[error(transparent)]
    InvalidUserId(#[from] parley_proto::ids::InvalidUserId),
    /// A file could not be read or written.
    #[error("{op}: {kind}")]
    File {
        /// What was being done.
        op: FileOp,
        /// The kind of I/O error.
        kind: io::ErrorKind,
    },
    /// A received file's pointer is malformed (its key or digest has the wrong length).
    #[error("the file's key or digest is malformed")]
    FileCorrupt,
    /// A received file's attachment id is not of the form the relay gives (32 lowercase hex
    /// digits): its sender chose it, and it is not put into a request to the relay.
    #[error("the file's attachment id is malformed; it was not downloaded")]
    InvalidAttachmentId,
    /// A file could not be encrypted, or a received one failed its integrity check (altered,
    /// truncated, or the wrong key); the cause is kept.
    #[error("file encryption: {0}")]
    Attachment(#[source] parley_crypto::attachment::AttachmentError),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code of this error, for scripts and the app.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "relay_unreachable",
            Self::Refused(e) => match e.body().map(|b| b.code) {
                Some(ErrorCode::Unauthorized | ErrorCode::Forbidden) => "not_authorized",
                Some(ErrorCode::InviteInvalid) => "invite_invalid",
                Some(ErrorCode::TooManyDevices) => "too_many_devices",
                Some(ErrorCode::TooLarge) => "too_large",
                Some(ErrorCode::NotFound) => "not_found",
                Some(ErrorCode::NoOrg) => "no_org",
                Some(ErrorCode::Conflict | ErrorCode::LogConflict) => "conflict",
                Some(ErrorCode::OrgRefused) => "org_refused",
                _ => "relay_refused",
            },
            Self::RelayMisbehaved(_) => "relay_misbehaved",
            Self::InsecureRelay(_) => "insecure_relay",
            Self::ConnectionClosed => "connection_closed",
            Self::ConnectionReplaced => "connection_replaced",
            Self::DevicesChanging => "devices_changing",
            Self::Trust(_) => "trust_failure",
            Self::Store(e) => match e {
                StoreError::KeyMissing | StoreError::WrongKey => "store_locked",
                StoreError::NotFound => "no_account",
                StoreError::AlreadyExists => "account_exists",
                _ => "store_failed",
            },
            Self::Missing(_) => "store_damaged",
            Self::NotEnrolled => "not_enrolled",
            Self::NoSuchUser => "no_such_user",
            Self::NoSuchGroup => "no_such_group",
            Self::AmbiguousGroup => "ambiguous_group",
            Self::NotAMember => "not_a_member",
            Self::NoSuchFile => "no_such_file",
            Self::NoSuchTask => "no_such_task",
            Self::AmbiguousTask => "ambiguous_task",
            Self::AssigneeNotMember => "assignee_not_member",
            Self::NotGroupAdmin => "not_group_admin",
            Self::TooLarge => "too_large",
            Self::OverPolicy { .. } => "over_policy",
            Self::DirectoryGroup => "directory_group",
            Self::NotAPoster => "not_a_poster",
            Self::Rejected(_) => "rejected",
            Self::Crypto(_) => "crypto_failed",
            Self::Invite(_) => "invite_invalid",
            Self::InviteUnusable => "invite_invalid",
            Self::DeviceRevoked(_) => "device_revoked",
            Self::Wiped { .. } => "device_wiped",
            Self::OfflineLocked => "offline_locked",
            Self::OfflineWiped => "offline_wiped",
            Self::RelayRequired => "relay_required",
            Self::RemoteSecretGone => "remote_secret_gone",
            Self::NotAdmin => "not_admin",
            Self::NoRootKey => "no_root_key",
            Self::RootKeyFile(parley_crypto::recovery::RecoveryError::WrongPassphrase) => {
                "wrong_passphrase"
            }
            Self::RootKeyFile(parley_crypto::recovery::RecoveryError::WeakPassphrase) => {
                "weak_passphrase"
            }
            Self::RootKeyFile(_) => "bad_root_key_file",
            Self::ForeignRootKey => "foreign_root_key",
            Self::OrgLog(parley_proto::org::OrgError::UnknownKind(_)) => "update_required",
            Self::OrgLog(_) => "org_log_invalid",
            Self::InvalidUserId(_) => "invalid_user_id",
            Self::File { .. } => "file_error",
            Self::FileCorrupt => "file_corrupt",
            Self::InvalidAttachmentId => "invalid_attachment_id",
            Self::Attachment(parley_crypto::attachment::AttachmentError::Io(_)) => "file_error",
            Self::Attachment(_) => "file_corrupt",
        }
    }

    /// Whether the same call may succeed later without anything changing here: the relay was
    /// unreachable or busy, or the recipient's devices were changing. A message that failed
    /// so is still queued.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_)
                | Self::ConnectionClosed
                | Self::DevicesChanging
                | Self::OfflineLocked
                | Self::RelayRequired
        )
    }

    /// Whether the store could not be opened because its key is missing or wrong.
    pub fn is_store_locked(&self) -> bool {
        matches!(
            self,
            Self::Store(StoreError::KeyMissing | StoreError::WrongKey)
        )
    }

    /// The relay's error, for errors that carry one.
    pub fn relay_error(&self) -> Option<&RelayError> {
        match self {
            Self::Unreachable(e) | Self::Refused(e) | Self::InsecureRelay(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this error is not the fault of the envelope being received (the store failed,
    /// or the relay could not be asked about its sender): the envelope is not acknowledged,
    /// and comes again.
    pub(crate) fn is_local_or_relay(&self) -> bool {
        matches!(
            self,
            Self::Store(_)
                | Self::Missing(_)
                | Self::Unreachable(_)
                | Self::Refused(_)
                | Self::ConnectionClosed
        )
    }

    /// The `{code, message}` pair of this error.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            code: self.code(),
            message: self.to_string(),
        }
    }

    pub(crate) fn file(op: FileOp) -> impl Fn(io::Error) -> Self {
        move |e| Self::File { op, kind: e.kind() }
    }
}

impl From<RelayError> for Error {
    fn from(e: RelayError) -> Self {
        // Refused credentials are not a network failure, whatever carried the answer.
        if e.is_unauthorized() {
            return Self::Refused(Box::new(e));
        }
        match &e {
            RelayError::Http(_) | RelayError::WebSocket(_) => Self::Unreachable(Box::new(e)),
            RelayError::Insecure(_) | RelayError::Tls(_) => Self::InsecureRelay(Box::new(e)),
            RelayError::BadFrame => Self::RelayMisbehaved(Misbehaviour::MalformedAnswer),
            RelayError::TooLarge => Self::RelayMisbehaved(Misbehaviour::OversizedAnswer),
            RelayError::Unexpected { status } if status.is_server_error() => {
                Self::Unreachable(Box::new(e))
            }
            RelayError::Unexpected { .. } => Self::RelayMisbehaved(Misbehaviour::MalformedAnswer),
            RelayError::Api { status, body } => {
                let busy = matches!(
                    body.code,
                    ErrorCode::Unavailable
                        | ErrorCode::RateLimited
                        | ErrorCode::Internal
                        | ErrorCode::QueueFull
                ) || status.is_server_error();
                if busy {
                    Self::Unreachable(Box::new(e))
                } else {
                    Self::Refused(Box::new(e))
                }
            }
        }
    }
}

/// An error as the app and `--json` output show it: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ErrorInfo {
    /// [`Error::code`].
    pub code: &'static str,
    /// The error's `Display`.
    pub message: String,
}

/// How the relay broke the API's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// An answer or frame that does not parse.
    #[error("a malformed answer")]
    MalformedAnswer,
    /// An answer over the size this client reads.
    #[error("an answer over the size limit")]
    OversizedAnswer,
    /// A device list with a malformed identity key.
    #[error("a malformed identity key in a device list")]
    MalformedIdentity,
    /// A prekey bundle that does not parse.
    #[error("a malformed prekey bundle")]
    MalformedBundle,
    /// No prekey bundle for a device it lists.
    #[error("no prekeys for a listed device")]
    NoBundle,
    /// More bytes of an attachment than its size.
    #[error("more bytes than the file has")]
    OversizedFile,
}

/// What did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustFailure {
    /// The relay listed a known device with another identity key than the org log's.
    #[error("the relay changed the identity key of a known device")]
    IdentityChanged,
    /// The relay listed, or a message came from, a device the verified org log does not
    /// list (a "ghost" device): nothing is encrypted to it or accepted from it.
    #[error("the relay lists a device that the org log does not: refused")]
    UnlistedDevice,
    /// A message came from a device the org log revoked.
    #[error("a message came from a revoked device")]
    RevokedDevice,
    /// The relay served a shorter org log than one it served before (a rollback).
    #[error("the relay rolled the org log back")]
    LogRollback,
    /// The relay served an org log that does not extend the one verified before (a rewrite,
    /// or another org).
    #[error("the relay rewrote the org log")]
    LogRewritten,
    /// A message's author had verified an org log that is not this device's (same length,
    /// another last entry, or an entry this device's log does not have): the relay is showing
    /// people different logs.
    #[error(
        "another member has seen a different org log: the relay is showing people different logs"
    )]
    LogForked,
    /// A message's author had verified org log entries the relay does not serve this device.
    #[error("another member has seen org log entries the relay withholds from this device")]
    LogWithheld,
    /// A prekey bundle's identity is not the one listed for its device.
    #[error("a prekey bundle's identity is not its device's")]
    BundleIdentityMismatch,
    /// A prekey bundle's signatures do not verify.
    #[error("a prekey bundle does not verify")]
    BundleSignature,
}

/// A record an enrolled account's store always holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Missing {
    /// The device's identity key pair.
    #[error("identity key")]
    Identity,
    /// The device's prekeys.
    #[error("prekeys")]
    PreKeys,
    /// This device's sender key of a group it is sending to.
    #[error("sender key for this group")]
    OwnSenderKey,
    /// The verified org log.
    #[error("verified org log")]
    OrgLog,
}

/// Why a received envelope was refused. Its session state still advanced where a message key
/// was used up; nothing it said was applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The envelope's bytes are not an envelope.
    #[error("a malformed envelope")]
    MalformedEnvelope,
    /// The envelope did not decrypt (the cause is kept for logs; all look alike to peers).
    #[error("an envelope did not decrypt: {0}")]
    Undecryptable(parley_crypto::Error),
    /// The decrypted content does not parse.
    #[error("malformed content")]
    MalformedContent,
    /// A group envelope from a device whose sender key this device does not hold.
    #[error("a group message from a device whose sender key is unknown here")]
    NoSenderKey,
    /// A sender-key distribution that does not parse.
    #[error("a malformed sender key")]
    MalformedSenderKey,
    /// Content that names another group than the envelope's sender key.
    #[error("a message for another group")]
    WrongGroup,
    /// A message for a group this device does not know.
    #[error("a message for an unknown group")]
    UnknownGroup,
    /// A group message or sender key from someone who is not a member.
    #[error("a group message from a non-member")]
    FromNonMember,
    /// A message for a group this user has left.
    #[error("a message for a group this user has left")]
    LeftGroup,
    /// A group change without a group, or for a conversation that is not a group.
    #[error("a group change outside a group")]
    NotAGroup,
    /// An edit or delete of a message the sender did not write.
    #[error("an edit or delete of someone else's message")]
    NotTheAuthor,
    /// A group change whose signature does not verify against the org log, or a group with
    /// more changes than a device keeps.
    #[error("a group change that does not verify")]
    BadGroupChange,
    /// A group change from a member who is not an admin of the group.
    #[error("a group change from a member who is not an admin of the group")]
    NotGroupAdmin,
    /// A group change to a group the directory makes.
    #[error("a group change to a group that follows the directory")]
    DirectoryGroup,
    /// A post in the company channel from someone who is not an org admin.
    #[error("a post in the company channel from someone who is not an administrator")]
    NotAPoster,
    /// An edit, delete, reaction or receipt of a message of another conversation.
    #[error("an edit, delete, reaction or receipt sent in another conversation than its message")]
    WrongConversation,
}

/// A file operation, for [`Error::File`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileOp {
    /// Reading the file to send.
    #[error("cannot read the file")]
    ReadSource,
    /// A temporary file beside the download or in the temp directory.
    #[error("cannot write a temporary file")]
    TempFile,
    /// Creating the download folder.
    #[error("cannot create the download folder")]
    CreateFolder,
    /// Moving the finished download into place.
    #[error("cannot save the file")]
    Save,
    /// The background encryption or decryption task ended abnormally.
    #[error("the file task failed")]
    Task,
    /// Deleting files in a wipe.
    #[error("cannot delete a file of the account")]
    Delete,
}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}

impl From<TrustFailure> for Error {
    fn from(t: TrustFailure) -> Self {
        Self::Trust(t)
    }
}

impl From<Misbehaviour> for Error {
    fn from(m: Misbehaviour) -> Self {
        Self::RelayMisbehaved(m)
    }
}

impl From<Missing> for Error {
    fn from(m: Missing) -> Self {
        Self::Missing(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::ErrorBody;
    use reqwest::StatusCode;

    fn api(status: StatusCode, code: ErrorCode) -> Error {
        Error::from(RelayError::Api {
            status,
            body: Box::new(ErrorBody::new(code, "x")),
        })
    }

    #[test]
    fn relay_answers_sort_into_temporary_and_refused() {
        let busy = api(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable);
        assert!(busy.is_temporary());
        assert_eq!(busy.code(), "relay_unreachable");
        let limited = api(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
        assert!(limited.is_temporary());
        let full = api(StatusCode::TOO_MANY_REQUESTS, ErrorCode::QueueFull);
        assert!(full.is_temporary());
        let denied = api(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(!denied.is_temporary());
        assert_eq!(denied.code(), "not_authorized");
        let proxy = Error::from(RelayError::Unexpected {
            status: StatusCode::BAD_GATEWAY,
        });
        assert!(proxy.is_temporary());
        let odd = Error::from(RelayError::Unexpected {
            status: StatusCode::OK,
        });
        assert_eq!(odd.code(), "relay_misbehaved");
    }

    #[test]
    fn a_locked_store_has_its_own_code() {
        let e = Error::from(StoreError::WrongKey);
        assert!(e.is_store_locked());
        assert_eq!(e.info().code, "store_locked");
        assert!(!Error::from(StoreError::NotFound).is_store_locked());
    }

    #[test]
    fn messages_are_sentences_not_type_names() {
        for e in [
            Error::NoSuchUser,
            Error::DevicesChanging,
            Error::Rejected(Rejection::NotTheAuthor),
            Error::Trust(TrustFailure::IdentityChanged),
            Error::File {
                op: FileOp::ReadSource,
                kind: io::ErrorKind::NotFound,
            },
        ] {
            let text = e.to_string();
            assert!(!text.contains("Error"), "{text}");
            assert!(!text.contains('{'), "{text}");
        }
    }
}
