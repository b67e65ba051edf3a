//! Receiving: an envelope is decrypted, and the session, prekeys and the message's effects
//! are stored in one transaction before it is acked.

use parley_crypto::DeviceAddress;
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::os_rng;
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::session_record::LocalDevice;
use parley_proto::content::{AttachmentPointer, Body, Content, GroupId, MessageId as ContentId};
use parley_proto::envelope::EnvelopeBody;
use parley_proto::ws::Envelope;
use parley_proto::{DeviceId, UserId};

use crate::error::{Error, Missing, Rejection, Result};
use crate::store::StoreTx;

use super::*;

/// Something another device (or another device of this user) said, as the application sees
/// it: a message, a file, an edit, a deletion, a reaction, a receipt, typing, or a group
/// change. Its effects are already stored when the application gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Author.
    pub from: UserId,
    /// Author's device.
    pub device: DeviceId,
    /// For a copy of one's own 1:1 message sent from another device: its recipient.
    pub sync_to: Option<UserId>,
    /// The group, for group conversations.
    pub group: Option<GroupId>,
    /// Author's message id.
    pub id: ContentId,
    /// Author's send time, ms.
    pub sent_at: u64,
    /// The org log head its author had verified when it wrote it (see
    /// [`Messenger::check_org_head`]).
    pub org_head: Option<parley_proto::org::LogHead>,
    /// What it says.
    pub body: Body,
    /// It mentions this user (by id, or `@all` from someone who may).
    pub mentioned: bool,
    /// It should notify: a new text or file from someone else, let through by this user's
    /// settings for the conversation at the time it was received.
    pub notify: bool,
}

impl Received {
    /// The text of a text message, or the caption of a file.
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            Body::Text { text, .. } => Some(text),
            Body::File { caption, .. } => caption.as_deref(),
            _ => None,
        }
    }

    /// The file of a file message (download it with [`crate::files::download`]).
    pub fn file(&self) -> Option<&AttachmentPointer> {
        match &self.body {
            Body::File { attachment, .. } => Some(attachment),
            _ => None,
        }
    }
}

impl Messenger {
    /// Decrypts one delivered envelope and stores its effects. Returns `None` for a repeat or
    /// for content that carries nothing for the app; the caller acks in every `Ok` case.
    pub async fn receive(&self, env: &Envelope) -> Result<Option<Received>> {
        let received = match EnvelopeBody::from_bytes(&env.body.0)
            .map_err(|_| Rejection::MalformedEnvelope)?
        {
            EnvelopeBody::Session(bytes) => self.receive_session(env, bytes).await,
            EnvelopeBody::Group(bytes) => self.receive_group(env, bytes).await,
        }?;
        // A group change may have beaten one of this device's: make it again where it can be.
        if let Some(Received {
            body: Body::Group(_),
            group: Some(group),
            ..
        }) = &received
        {
            self.redo_lost_changes(group).await;
        }
        Ok(received)
    }

    pub(super) async fn receive_session(
        &self,
        env: &Envelope,
        bytes: &[u8],
    ) -> Result<Option<Received>> {
        let from = address(env.source_user.as_str(), env.source_device)?;
        let message =
            SessionMessage::from_bytes(bytes).map_err(|_| Rejection::MalformedEnvelope)?;
        let mut tx = self.store.begin().await?;
        let mut record = tx.session(&from).await?.unwrap_or_default();
        // Only a message that starts a new session needs the sender's identity (as the
        // directory lists it) and the prekeys; a ratchet message, or a prekey message of a
        // session already made (every message until the peer answers), needs neither.
        let mut listed = None;
        if record.starts_new_session(&message) {
            // The identity may have to come from the relay: not while holding the store.
            tx.rollback().await?;
            listed = self
                .identity_of(&env.source_user, env.source_device)
                .await?;
            tx = self.store.begin().await?;
            record = tx.session(&from).await?.unwrap_or_default();
        }
        self.refuse_revoked(&mut tx, &env.source_user, env.source_device)
            .await?;
        let me = self.me()?;
        let identity = self.identity();
        // Decoding the prekey store costs a public key per prekey: only when they are used.
        let mut prekeys = match record.starts_new_session(&message) {
            true => tx.prekeys().await?.ok_or(Missing::PreKeys)?,
            false => PreKeyStore::empty(),
        };
        let local = LocalDevice {
            address: &me,
            identity,
            prekeys: &mut prekeys,
        };
        let trusted = |id: &PublicIdentity| listed.as_ref() == Some(id);
        let now = now_ms() / 1000;
        let decrypted = match record.decrypt(local, &from, &message, trusted, now, &mut os_rng()) {
            Ok(d) => d,
            // Delivered again after its effects were stored (a crash before the ack, or a
            // replay): nothing to do.
            Err(parley_crypto::Error::DuplicateMessage) => return Ok(None),
            Err(e) => return Err(Rejection::Undecryptable(e).into()),
        };
        tx.set_session(&from, &record).await?;
        // Only a new session consumes prekeys; a prekey message of an existing session (every
        // message until the peer answers) leaves them as they were, and rewriting the whole
        // prekey store (tens of KiB, secure_delete) made each such receive's commit large.
        if decrypted.new_session {
            tx.set_prekeys(&prekeys).await?;
        }
        // From here on the advanced session is kept (its message key is gone) even when the
        // content is unusable.
        let outcome = match Content::from_bytes(&decrypted.plaintext) {
            Ok(content) => self.receive_content(&mut tx, env, &from, content).await,
            Err(_) => Err(Rejection::MalformedContent.into()),
        };
        finish(tx, outcome).await
    }

    /// Applies decrypted content (from either kind of envelope) inside `tx`.
    pub(crate) async fn receive_content(
        &self,
        tx: &mut StoreTx<'_>,
        env: &Envelope,
        from: &DeviceAddress,
        content: Content,
    ) -> Result<Option<Received>> {
        let author = &env.source_user;
        let own_copy = author.as_str() == self.account.user;
        let conversation = match (&content.group, &content.sync_to) {
            (Some(group), _) => self.store.group_conversation_id(&crypto_group(group)),
            (None, Some(to)) if own_copy => {
                direct_conversation(tx, &self.store, to.as_str()).await?
            }
            // About the author, not a message: no conversation is opened for it.
            (None, _) if matches!(content.body, Body::Presence { .. } | Body::Status { .. }) => {
                self.store.direct_conversation_id(author.as_str())
            }
            (None, _) => direct_conversation(tx, &self.store, author.as_str()).await?,
        };
        if let Some(group) = &content.group
            && !matches!(content.body, Body::SenderKey { .. })
        {
            self.check_group_sender(tx, group, author, &content.body)
                .await?;
        }
        let mut content = content;
        content.edited = None; // the store's, never the wire's
        self.check_mention_all(tx, author, &mut content).await?;
        let row = self.store.message_row_id(author.as_str(), &content.id.0);
        if let Some(existing) = tx.message(&row).await? {
            // An edit that came before its message is applied to it now; anything else in
            // the row (the message itself, or its delete) makes this a repeat.
            let Ok(Content {
                body: Body::Edit { text, revision, .. },
                ..
            }) = Content::from_bytes(&existing.body)
            else {
                return Ok(None);
            };
            if existing.conversation != conversation {
                return Err(Rejection::WrongConversation.into());
            }
            super::effects::apply_edit(&mut content, &text, revision);
            tx.delete_message(&row).await?;
        }
        if self
            .apply(tx, from, &content, conversation)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let me = self.account.user.as_str();
        let mentioned = !own_copy && super::notify::mentions(&content.body, me);
        let notify = !own_copy && {
            let settings = tx.conversation(&conversation).await?.map(|c| c.notify);
            super::notify::should_notify(&settings.unwrap_or_default(), &content.body, me, now_ms())
        };
        Ok(Some(Received {
            from: author.clone(),
            device: env.source_device,
            sync_to: if own_copy { content.sync_to } else { None },
            group: content.group,
            id: content.id,
            sent_at: content.sent_at,
            org_head: match (content.org_len, &content.org_head) {
                (Some(len), Some(hash)) => <[u8; 32]>::try_from(hash.as_bytes())
                    .ok()
                    .map(|hash| parley_proto::org::LogHead { len, hash }),
                _ => None,
            },
            body: content.body,
            mentioned,
            notify,
        }))
    }
}

/// Ends a receive: on a store (or relay) failure everything is rolled back (the envelope is not acked
/// and comes again); otherwise the advanced session or sender key is committed even when the
/// content was refused, as its message key is used up.
pub(crate) async fn finish(
    tx: StoreTx<'_>,
    outcome: Result<Option<Received>>,
) -> Result<Option<Received>> {
    if outcome.as_ref().is_err_and(Error::is_local_or_relay) {
        drop(tx);
        return outcome;
    }
    tx.commit().await?;
    outcome
}
