//! Department groups and the all-company channel (docs/architecture.md §7).
//!
//! The directory makes them ([`parley_proto::org::groups`]): a group per department and one
//! channel for everyone, with ids derived from the org's genesis and members read from the
//! verified log. Each device keeps their conversations in step with its log
//! (`Messenger::follow_directory_groups`, whenever the log advances and when the engine
//! opens): nobody sends a membership change, and nobody can make one by hand (a `Group`
//! change to such a group is refused). When someone leaves one (moved to another department,
//! dismissed), every remaining member drops its sender key as on any removal, so the leaver,
//! even with its state intact, decrypts nothing sent afterwards. Messages then travel as in
//! any group: sender keys, distributed pairwise to the members' devices.
//!
//! The company channel is for announcements: only org admins post (texts and files);
//! everyone reads and reacts. A post from anyone else is refused by the sender's engine and
//! by every receiver.

use std::collections::BTreeSet;

use parley_proto::UserId;
use parley_proto::content::{Body, GroupId};
use parley_proto::org::{OrgState, company_group, directory_groups};

use crate::error::Result;
use crate::groups::rotate_after_removal;
use crate::messaging::{Messenger, crypto_group, now_ms};
use crate::store::{Conversation, ConversationKind, StoreTx};

impl Messenger {
    /// Brings the conversations of the directory's groups in step with `org`: creates the
    /// ones this user is in, updates members and names, and rotates keys when someone left.
    /// Returns the groups it changed.
    pub(crate) async fn follow_directory_groups(
        &self,
        tx: &mut StoreTx<'_>,
        org: &OrgState,
    ) -> Result<Vec<GroupId>> {
        let me = self.user().to_owned();
        let mut changed = Vec::new();
        for g in directory_groups(org) {
            let cg = crypto_group(&g.id);
            let id = self.store().group_conversation_id(&cg);
            let existing = tx.conversation(&id).await?;
            let members: BTreeSet<String> = g.members.iter().map(ToString::to_string).collect();
            let before: BTreeSet<String> = match &existing {
                Some(Conversation {
                    kind: ConversationKind::Group { members, .. },
                    ..
                }) => members.iter().cloned().collect(),
                _ => BTreeSet::new(),
            };
            if existing.is_none() && !members.contains(&me) {
                continue; // not one of ours
            }
            if existing.as_ref().is_some_and(|c| c.title == g.name) && before == members {
                continue;
            }
            let removed: Vec<&String> = before.difference(&members).collect();
            if !removed.is_empty() {
                rotate_after_removal(tx, &cg, removed.iter().map(|u| u.as_str())).await?;
            }
            let mut c = existing.unwrap_or(Conversation {
                id,
                kind: ConversationKind::Group {
                    group: cg,
                    members: Vec::new(),
                },
                title: String::new(),
                created_at: now_ms(),
                last_read: 0,
                notify: crate::store::NotifySettings::default(),
                timer: crate::store::Timer::default(),
                announcement: false,
            });
            c.kind = ConversationKind::Group {
                group: cg,
                members: members.into_iter().collect(),
            };
            c.title = g.name;
            tx.set_conversation(&c).await?;
            changed.push(g.id);
        }
        Ok(changed)
    }

    /// Whether `author` may post `body` in `group`: in the company channel texts and files
    /// only from org admins and appointed posters, in an announcement channel people made
    /// (`announcement`, from the group's conversation record) only from its admins; anything
    /// else anywhere.
    pub(crate) async fn may_post(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        author: &UserId,
        body: &Body,
        announcement: bool,
    ) -> Result<bool> {
        if !matches!(body, Body::Text { .. } | Body::File { .. }) {
            return Ok(true);
        }
        if *group != company_group(&self.account.org_genesis_hash) {
            if !announcement {
                return Ok(true);
            }
            let cg = crypto_group(group);
            return Ok(
                parley_proto::group::resolve(group, &tx.group_log(&cg).await?)
                    .is_some_and(|s| s.may_post(author)),
            );
        }
        if author.as_str() == self.account.user {
            return Ok(self.log_facts(tx).await?.poster);
        }
        Ok(self.stored_log(tx).await?.may_post_to_company(author))
    }
}
