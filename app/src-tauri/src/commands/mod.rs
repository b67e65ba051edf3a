//! The commands the UI may invoke: thin shims over `parley-client`, each granted by
//! `capabilities/main.json`. Arguments and results are the types of [`crate::dto`]; errors
//! are [`CommandError`] (`{code, message}`). No key material is ever returned.

mod tasks;

pub use tasks::*;

use std::path::PathBuf;
use std::sync::Arc;

use parley_client::enrol;
use parley_client::messaging::Messenger;
use parley_proto::UserId;
use parley_proto::invite::TlsPins;
use parley_proto::org::{Policy, Profile, RevokeReason};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::dto::{
    AppState, AuditLine, Chat, ChatSummary, CommandError, GoneReason, GroupDetails, InvitePreview,
    Item, ItemRef, Me, Notify, NotifyState, OrgPolicy, Person, PresenceDto, PresenceKind, Progress,
    message_id,
};
use crate::session::Shared;

type Shared_<'a> = State<'a, Arc<Shared>>;
type Result<T> = std::result::Result<T, CommandError>;

/// The most rows one `timeline` call returns.
pub const MAX_PAGE: u32 = 1000;
/// The largest file shown as an image preview (decrypted in memory only).
pub const MAX_PREVIEW_BYTES: u64 = 16 * 1024 * 1024;

/// Where the app stands: opens the account if there is one.
#[tauri::command]
pub async fn app_state(app: AppHandle, shared: Shared_<'_>) -> Result<AppState> {
    if let Ok(m) = shared.messenger().await {
        return Ok(AppState::Ready { me: me(&m).await? });
    }
    if !shared.has_account() {
        return Ok(AppState::Welcome {
            invite: shared.take_invite(),
        });
    }
    match parley_client::unlock::open_store(&shared.home, shared.keys()).await {
        Ok(store) => match shared.start(&app, store).await {
            Ok(m) => Ok(AppState::Ready { me: me(&m).await? }),
            // An enrolment that stopped before it finished: nothing to keep, start again.
            Err(parley_client::Error::NotEnrolled) => {
                erase_leftovers(&shared).await;
                Ok(AppState::Welcome {
                    invite: shared.take_invite(),
                })
            }
            Err(e) => Err(e.into()),
        },
        Err(e) => {
            if let Some(reason) = GoneReason::of(&e) {
                // Whatever is left cannot be opened; leave nothing behind.
                erase_leftovers(&shared).await;
                return Ok(AppState::Gone { reason });
            }
            if e.is_temporary() || matches!(e, parley_client::Error::OfflineLocked) {
                return Ok(AppState::Locked { error: e.into() });
            }
            Err(e.into())
        }
    }
}

/// Deletes a store that can no longer be opened, and the account's files.
async fn erase_leftovers(shared: &Shared) {
    if let Err(e) = parley_client::wipe::erase_at(&shared.home, &shared.keys()).await {
        tracing::warn!(code = e.code(), "erasing what was left failed");
    }
}

/// The delivery connection's state now (later changes come as events).
#[tauri::command]
pub fn connection_state(shared: Shared_<'_>) -> crate::dto::Connection {
    shared.connection()
}

/// This device's account.
#[tauri::command]
pub async fn whoami(shared: Shared_<'_>) -> Result<Me> {
    me(&*shared.messenger().await?).await
}

async fn me(m: &Messenger) -> Result<Me> {
    let org = m.verified_org().await?;
    let user = UserId::new(m.user())?;
    let record = org.user(&user);
    Ok(Me {
        display_name: record
            .map(|r| r.profile.display_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| user.to_string()),
        admin: record.is_some_and(|r| r.admin),
        user: user.to_string(),
        device: m.device(),
        org_name: org.name().to_owned(),
        relay: m.relay().base().to_owned(),
    })
}

/// Reads an invite or link code and the org it leads to, without joining.
#[tauri::command]
pub async fn preview_invite(invite: String) -> Result<InvitePreview> {
    Ok(enrol::preview(invite.trim()).await?.into())
}

/// Joins with an invite or link code and opens the account.
#[tauri::command]
pub async fn join(app: AppHandle, shared: Shared_<'_>, invite: String) -> Result<Me> {
    if shared.has_account() {
        return Err(CommandError::new(
            "account_exists",
            "this computer already has a Parley account",
        ));
    }
    let store = enrol::join(&shared.home, shared.new_keys().await?, invite.trim()).await?;
    let m = shared.start(&app, store).await?;
    me(&m).await
}

/// Creates a new org on a relay with its setup token, this user its first admin.
#[tauri::command]
#[expect(
    clippy::too_many_arguments,
    reason = "a command's arguments are the form's named fields"
)]
pub async fn create_org(
    app: AppHandle,
    shared: Shared_<'_>,
    relay: String,
    tls_pin: Option<String>,
    tls_backup_pin: Option<String>,
    setup_token: String,
    user: String,
    org_name: String,
) -> Result<Me> {
    if shared.has_account() {
        return Err(CommandError::new(
            "account_exists",
            "this computer already has a Parley account",
        ));
    }
    let primary = pin_of(tls_pin.as_deref())?;
    let backup = pin_of(tls_backup_pin.as_deref())?;
    let pins = match (primary, backup) {
        (Some(primary), backup) => Some(TlsPins { primary, backup }),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(CommandError::new(
                "invalid_pin",
                "a backup TLS pin needs a TLS pin",
            ));
        }
    };
    let user = UserId::new(user.trim().to_owned())?;
    let store = enrol::create_org(
        &shared.home,
        shared.new_keys().await?,
        relay.trim(),
        pins,
        setup_token.trim(),
        &user,
        org_name.trim(),
    )
    .await?;
    let m = shared.start(&app, store).await?;
    me(&m).await
}

/// A pin as typed: none when empty, else 64 hex digits (colons allowed, as `openssl` prints).
fn pin_of(text: Option<&str>) -> Result<Option<[u8; 32]>> {
    match text.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => parley_client::tls::parse_pin(p)
            .map(Some)
            .ok_or_else(|| CommandError::new("invalid_pin", "a TLS pin is 64 hex digits")),
    }
}

/// Whether this account's store key is kept in the OS keystore (else in a 0600 file).
#[tauri::command]
pub fn key_in_keystore(shared: Shared_<'_>) -> bool {
    shared.in_os_keystore()
}

/// A one-time link code for a further device of this user (valid for an hour): the other
/// device pastes it where an invite goes.
#[tauri::command]
pub async fn link_code(shared: Shared_<'_>) -> Result<String> {
    let m = shared.messenger().await?;
    Ok(enrol::link(m.store()).await?)
}

/// Every conversation, the most recently active first.
#[tauri::command]
pub async fn conversations(shared: Shared_<'_>) -> Result<Vec<ChatSummary>> {
    let m = shared.messenger().await?;
    let org = m.verified_org().await?;
    let name = |u: &UserId| {
        org.user(u)
            .map(|r| r.profile.display_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| u.to_string())
    };
    Ok(m.conversations()
        .await?
        .into_iter()
        .map(|c| ChatSummary::of(c, name))
        .collect())
}

/// Up to `limit` rows of a conversation stored before `before` (the latest if none), oldest
/// first.
#[tauri::command]
pub async fn timeline(
    shared: Shared_<'_>,
    chat: Chat,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<Item>> {
    let m = shared.messenger().await?;
    let target = chat.target()?;
    let rows = m.timeline(&target, before, limit.min(MAX_PAGE)).await?;
    let mut items: Vec<Item> = rows.into_iter().filter_map(Item::of).collect();
    // Task rows name their task by its title, as it is now.
    if items
        .iter()
        .any(|i| matches!(i.body, crate::dto::ItemBody::Task { .. }))
    {
        let filter = parley_client::tasks::TaskFilter {
            done: true,
            conversation: Some(target),
            ..Default::default()
        };
        let titles: std::collections::HashMap<String, String> = m
            .tasks(&filter)
            .await?
            .into_iter()
            .map(|t| (hex::encode(t.id.0), t.title))
            .collect();
        for item in &mut items {
            if let crate::dto::ItemBody::Task { task, title, .. } = &mut item.body
                && title.is_none()
            {
                title.clone_from(&titles.get(task).cloned());
            }
        }
    }
    Ok(items)
}

/// Marks a conversation read (and tells the authors).
#[tauri::command]
pub async fn read_chat(shared: Shared_<'_>, chat: Chat) -> Result<u32> {
    let n = shared
        .messenger()
        .await?
        .read_conversation(&chat.target()?)
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Sends a text, optionally answering a message. Returns its id. A message the relay cannot
/// take now stays queued and is sent later (`None`): that is not an error here.
#[tauri::command]
pub async fn send_text(
    shared: Shared_<'_>,
    chat: Chat,
    text: String,
    reply_to: Option<ItemRef>,
) -> Result<Option<String>> {
    let m = shared.messenger().await?;
    let target = chat.target()?;
    // `@user` words naming members become mentions (and `@all`, for those who may).
    let reply_to = reply_to.as_ref().map(ItemRef::to_ref).transpose()?;
    let body = m.text_body(&target, &text, reply_to).await?;
    queued_ok(m.send_body(&target, body).await).map(|id| id.map(hex::encode))
}

/// The id of a sent message, or `None` for one that is queued (sent when the relay can
/// take it).
fn queued_ok(
    r: parley_client::Result<parley_proto::content::MessageId>,
) -> Result<Option<[u8; 16]>> {
    match r {
        Ok(id) => Ok(Some(id.0)),
        Err(e) if e.is_temporary() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces the text of one of this user's messages.
#[tauri::command]
pub async fn edit_message(shared: Shared_<'_>, chat: Chat, id: String, text: String) -> Result<()> {
    let m = shared.messenger().await?;
    queued_ok(m.edit(&chat.target()?, message_id(&id)?, &text).await).map(|_| ())
}

/// Deletes one of this user's messages for everyone.
#[tauri::command]
pub async fn delete_message(shared: Shared_<'_>, chat: Chat, id: String) -> Result<()> {
    let m = shared.messenger().await?;
    queued_ok(m.delete(&chat.target()?, message_id(&id)?).await).map(|_| ())
}

/// Adds or takes back a reaction.
#[tauri::command]
pub async fn react(
    shared: Shared_<'_>,
    chat: Chat,
    target: ItemRef,
    emoji: String,
    remove: bool,
) -> Result<()> {
    let m = shared.messenger().await?;
    queued_ok(
        m.react(&chat.target()?, target.to_ref()?, &emoji, remove)
            .await,
    )
    .map(|_| ())
}

/// Tells the peer of a 1:1 conversation whether this user is typing (best effort).
#[tauri::command]
pub async fn typing(shared: Shared_<'_>, chat: Chat, started: bool) -> Result<()> {
    if let Chat::User { user } = &chat {
        let m = shared.messenger().await?;
        let _ = m.typing(&UserId::new(user.clone())?, started).await;
    }
    Ok(())
}

/// Encrypts, uploads and sends the file at `path` (chosen by the user in the system's open
/// dialog), reporting progress on `progress`.
#[tauri::command]
pub async fn send_file(
    shared: Shared_<'_>,
    chat: Chat,
    path: PathBuf,
    caption: Option<String>,
    progress: Channel<Progress>,
) -> Result<Option<String>> {
    let m = shared.messenger().await?;
    let result = m
        .send_file(
            &chat.target()?,
            &path,
            caption.filter(|c| !c.is_empty()),
            move |done, total| {
                let _ = progress.send(Progress { done, total });
            },
        )
        .await;
    queued_ok(result).map(|id| id.map(hex::encode))
}

/// Saves a received file, decrypted, into `dir` (chosen by the user); returns its path.
#[tauri::command]
pub async fn save_file(
    shared: Shared_<'_>,
    author: String,
    id: String,
    dir: PathBuf,
) -> Result<String> {
    let m = shared.messenger().await?;
    let path = m
        .save_file(&UserId::new(author)?, &message_id(&id)?, &dir, |_, _| {})
        .await?;
    Ok(path.display().to_string())
}

/// A received or sent image as a `data:` URL for its preview (decrypted in memory, never on
/// disk); `None` for a file that is not a PNG, JPEG, GIF or WebP image, or too large.
#[tauri::command]
pub async fn image_preview(
    shared: Shared_<'_>,
    author: String,
    id: String,
) -> Result<Option<String>> {
    use base64::Engine as _;
    let m = shared.messenger().await?;
    let (author, id) = (UserId::new(author)?, message_id(&id)?);
    let file = m.file_of(&author, &id).await?;
    let Some(mime) = image_type(&file.content_type) else {
        return Ok(None);
    };
    if file.size > MAX_PREVIEW_BYTES {
        return Ok(None);
    }
    let bytes = m.open_file(&file, MAX_PREVIEW_BYTES).await?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&*bytes);
    Ok(Some(format!("data:{mime};base64,{encoded}")))
}

/// The image types a preview shows (never SVG: it can carry scripts).
fn image_type(content_type: &str) -> Option<&'static str> {
    match content_type.to_ascii_lowercase().as_str() {
        "image/png" => Some("image/png"),
        "image/jpeg" | "image/jpg" => Some("image/jpeg"),
        "image/gif" => Some("image/gif"),
        "image/webp" => Some("image/webp"),
        _ => None,
    }
}

/// The org's directory from the verified log (dismissed colleagues included, marked).
#[tauri::command]
pub async fn directory(shared: Shared_<'_>) -> Result<Vec<Person>> {
    let org = shared.messenger().await?.verified_org().await?;
    let posters: std::collections::BTreeSet<&UserId> = org.posters().collect();
    Ok(org
        .users()
        .map(|(u, r)| Person {
            poster: posters.contains(u),
            ..Person::of(u, r)
        })
        .collect())
}

/// Lets `user` post in the company channel beside the admins, or no longer (admins only).
#[tauri::command]
pub async fn set_poster(shared: Shared_<'_>, user: String, poster: bool) -> Result<()> {
    let m = shared.messenger().await?;
    m.set_poster(&UserId::new(user)?, poster).await?;
    Ok(())
}

/// Status texts: this user's and colleagues' (not cleared, not past their time).
#[tauri::command]
pub async fn statuses(shared: Shared_<'_>) -> Result<Vec<crate::dto::StatusDto>> {
    let m = shared.messenger().await?;
    Ok(m.statuses().await?.into_iter().map(Into::into).collect())
}

/// Sets this user's status text (empty clears it), clearing itself at `until` (ms) if given;
/// returns how many colleagues were told.
#[tauri::command]
pub async fn set_status(shared: Shared_<'_>, text: String, until: Option<u64>) -> Result<usize> {
    let m = shared.messenger().await?;
    Ok(m.set_status(&text, until).await?)
}

/// Colleagues' presence as they last shared it (none while the policy is off).
#[tauri::command]
pub async fn presence(shared: Shared_<'_>) -> Result<Vec<PresenceDto>> {
    let m = shared.messenger().await?;
    Ok(m.presence().await?.into_iter().map(Into::into).collect())
}

/// Tells the people this user talks to that it is `state` (nothing while the policy is off).
#[tauri::command]
pub async fn set_presence(shared: Shared_<'_>, state: PresenceKind) -> Result<()> {
    let m = shared.messenger().await?;
    m.set_presence(state.into()).await?;
    Ok(())
}

/// Sets the disappearing-message timer of `chat` (0: off) for every member.
#[tauri::command]
pub async fn set_disappearing(shared: Shared_<'_>, chat: Chat, secs: u64) -> Result<()> {
    let m = shared.messenger().await?;
    queued_ok(m.set_disappearing(&chat.target()?, secs).await).map(|_| ())
}

/// Sets when `chat` notifies (synced to this user's other devices).
#[tauri::command]
pub async fn set_notify(
    shared: Shared_<'_>,
    chat: Chat,
    level: Notify,
    muted_until: u64,
) -> Result<NotifyState> {
    let m = shared.messenger().await?;
    Ok(m.set_notify(&chat.target()?, level.into(), muted_until)
        .await?
        .into())
}

/// The user ids `query` finds in the directory, best first (the engine's ranked search:
/// every word starts a word of name, id, title, department, email or phone; case and ё/е
/// ignored); dismissed colleagues only if `former`.
#[tauri::command]
pub async fn search_directory(
    shared: Shared_<'_>,
    query: String,
    former: bool,
) -> Result<Vec<String>> {
    let m = shared.messenger().await?;
    Ok(m.search_directory(&query, former, usize::MAX)
        .await?
        .into_iter()
        .map(|h| h.user.to_string())
        .collect())
}

/// The safety number with `user`, in groups of five digits.
#[tauri::command]
pub async fn safety_number(shared: Shared_<'_>, user: String) -> Result<String> {
    let m = shared.messenger().await?;
    Ok(m.safety_number(&UserId::new(user)?)
        .await?
        .display_grouped())
}

/// Creates a group with these members (this user is its first admin).
#[tauri::command]
pub async fn create_group(shared: Shared_<'_>, name: String, members: Vec<String>) -> Result<Chat> {
    let m = shared.messenger().await?;
    let group = m.create_group(name.trim(), &user_ids(members)?).await?;
    Ok(Chat::Group {
        group: hex::encode(group.0),
    })
}

/// A group's name, members and admins.
#[tauri::command]
pub async fn group_details(shared: Shared_<'_>, chat: Chat) -> Result<GroupDetails> {
    let m = shared.messenger().await?;
    Ok(GroupDetails::of(m.group(&group_of(&chat)?).await?))
}

/// The group of a group chat; a 1:1 chat is a typed error.
fn group_of(chat: &Chat) -> Result<parley_proto::content::GroupId> {
    match chat.target()? {
        parley_client::messaging::Target::Group(g) => Ok(g),
        parley_client::messaging::Target::User(_) => Err(parley_client::Error::NoSuchGroup.into()),
    }
}

fn user_ids(users: Vec<String>) -> Result<Vec<UserId>> {
    Ok(users
        .into_iter()
        .map(UserId::new)
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// A change to a group (admins of the group; anyone may `leave`): `add`, `remove`, `promote`,
/// `demote` the given members, `rename` to `name`, `leave`, or `announce_on` / `announce_off`
/// (only admins post, or everyone again).
#[tauri::command]
pub async fn change_group(
    shared: Shared_<'_>,
    chat: Chat,
    change: String,
    members: Vec<String>,
    name: Option<String>,
) -> Result<GroupDetails> {
    let m = shared.messenger().await?;
    let group = group_of(&chat)?;
    match change.as_str() {
        "add" => m.add_members(&group, &user_ids(members)?).await?,
        "remove" => m.remove_members(&group, &user_ids(members)?).await?,
        "promote" => m.promote(&group, &user_ids(members)?).await?,
        "demote" => m.demote(&group, &user_ids(members)?).await?,
        "rename" => {
            let name = name.unwrap_or_default();
            m.rename_group(&group, name.trim()).await?;
        }
        "leave" => {
            m.remove_members(&group, &[UserId::new(m.user())?]).await?;
        }
        "announce_on" => m.set_announcement(&group, true).await?,
        "announce_off" => m.set_announcement(&group, false).await?,
        _ => {
            return Err(CommandError::new(
                "invalid_change",
                "the change is add, remove, promote, demote, rename, leave, announce_on or announce_off",
            ));
        }
    }
    Ok(GroupDetails::of(m.group(&group).await?))
}

/// Invites a colleague (admins only): their directory entry, signed, and a one-time invite
/// text to hand them. With `admin`, the invite makes them an admin (needs the root key).
#[tauri::command]
pub async fn invite_user(
    shared: Shared_<'_>,
    user: String,
    display_name: String,
    email: String,
    title: String,
    department: String,
    admin: bool,
) -> Result<String> {
    let m = shared.messenger().await?;
    let profile = Profile {
        display_name: display_name.trim().to_owned(),
        email: email.trim().to_owned(),
        title: title.trim().to_owned(),
        department: department.trim().to_owned(),
        phone: String::new(),
    };
    let user = UserId::new(user.trim().to_owned())?;
    Ok(enrol::invite(m.store(), &user, Some(profile), admin).await?)
}

/// Revokes a device (admins; or a user's own other device): `lost`, `logout` or `replaced`.
#[tauri::command]
pub async fn revoke_device(
    shared: Shared_<'_>,
    user: String,
    device: u32,
    reason: String,
) -> Result<()> {
    let reason = match reason.as_str() {
        "lost" => RevokeReason::Lost,
        "logout" => RevokeReason::Logout,
        "replaced" => RevokeReason::Replaced,
        _ => {
            return Err(CommandError::new(
                "invalid_reason",
                "the reason is lost, logout or replaced",
            ));
        }
    };
    let m = shared.messenger().await?;
    m.revoke_device(&UserId::new(user)?, device, reason).await?;
    Ok(())
}

/// Dismisses a user: every device revoked, out of the directory (admins).
#[tauri::command]
pub async fn dismiss_user(shared: Shared_<'_>, user: String) -> Result<()> {
    let m = shared.messenger().await?;
    m.dismiss_user(&UserId::new(user)?).await?;
    Ok(())
}

/// Orders a device wiped (admins): it obeys at its next connection and signs a receipt.
#[tauri::command]
pub async fn order_wipe(shared: Shared_<'_>, user: String, device: u32) -> Result<()> {
    let m = shared.messenger().await?;
    m.order_wipe(&UserId::new(user)?, device).await?;
    Ok(())
}

/// The org's policy.
#[tauri::command]
pub async fn policy(shared: Shared_<'_>) -> Result<OrgPolicy> {
    let p = *shared.messenger().await?.verified_org().await?.policy();
    Ok(OrgPolicy {
        offline_lock_secs: p.offline_lock_secs,
        offline_wipe_secs: p.offline_wipe_secs,
        remote_secret: p.remote_secret,
        max_disappearing_secs: p.max_disappearing_secs,
        presence: p.presence,
    })
}

/// Sets the org's policy (admins).
#[tauri::command]
pub async fn set_policy(shared: Shared_<'_>, policy: OrgPolicy) -> Result<()> {
    let m = shared.messenger().await?;
    m.set_policy(Policy {
        offline_lock_secs: policy.offline_lock_secs,
        offline_wipe_secs: policy.offline_wipe_secs,
        remote_secret: policy.remote_secret,
        max_disappearing_secs: policy.max_disappearing_secs,
        presence: policy.presence,
    })
    .await?;
    Ok(())
}

/// The verified org log, newest first.
#[tauri::command]
pub async fn audit(shared: Shared_<'_>) -> Result<Vec<AuditLine>> {
    let m = shared.messenger().await?;
    let mut lines: Vec<AuditLine> = m.audit().await?.iter().map(AuditLine::of).collect();
    lines.reverse();
    Ok(lines)
}
