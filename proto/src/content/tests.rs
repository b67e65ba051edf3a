//! Content: every body round-trips, versions and damage are refused, limits hold.

use super::*;
use proptest::prelude::*;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn samples() -> Vec<Body> {
    let target = MessageRef {
        author: user("alice"),
        id: MessageId([7; 16]),
    };
    vec![
        Body::Text {
            text: "hello".into(),
            reply_to: Some(target.clone()),
            mentions: vec![user("bob")],
            mention_all: true,
        },
        Body::Settings {
            notify: NotifyLevel::Mentions,
            muted_until: 5,
            revision: 7,
        },
        Body::Timer { secs: 86_400 },
        Body::Status {
            text: "On holiday".into(),
            until: Some(9),
            revision: 3,
        },
        Body::Task {
            task: TaskId([8; 16]),
            stamp: 3,
            change: TaskChange::Create {
                title: "Quarterly report".into(),
                assignee: user("bob"),
                deadline: Some(1_800_000_000_000),
                description: Some("numbers".into()),
            },
        },
        Body::Task {
            task: TaskId([8; 16]),
            stamp: 4,
            change: TaskChange::Status {
                status: TaskStatus::InProgress,
            },
        },
        Body::Task {
            task: TaskId([8; 16]),
            stamp: 5,
            change: TaskChange::Deadline { deadline: None },
        },
        Body::Presence {
            state: PresenceState::Away,
            last_seen: Some(9),
        },
        Body::File {
            attachment: AttachmentPointer {
                id: "00".repeat(16),
                key: B64(vec![1; 32]),
                digest: B64(vec![2; 32]),
                size: 5,
                content_type: "text/plain".into(),
                file_name: Some("a.txt".into()),
            },
            caption: None,
            reply_to: None,
        },
        Body::Edit {
            target: target.clone(),
            text: "fixed".into(),
            revision: 1,
        },
        Body::Delete {
            target: target.clone(),
        },
        Body::Reaction {
            target,
            emoji: "👍".into(),
            remove: false,
        },
        Body::Receipt {
            receipt: ReceiptKind::Read,
            targets: vec![MessageId([1; 16])],
        },
        Body::Typing { started: true },
        Body::Group(GroupUpdate {
            changes: vec![crate::group::SignedGroupChange {
                epoch: 0,
                prev: B64(vec![0; 32]),
                author: user("alice"),
                device: 1,
                change: GroupChange::Create {
                    name: "ops".into(),
                    members: vec![user("alice"), user("bob")],
                },
                signature: B64(vec![7; 64]),
            }],
        }),
        Body::SenderKey {
            group: GroupId([3; 32]),
            distribution: B64(vec![9; 100]),
        },
    ]
}

#[test]
fn every_kind_round_trips() {
    for body in samples() {
        let mut c = Content::new(MessageId([5; 16]), 1_700_000_000_000, body);
        c.group = Some(GroupId([4; 32]));
        c.org_head = Some(B64(vec![0; 32]));
        // A head without its length (or the reverse) is refused.
        assert!(Content::from_bytes(&c.to_bytes()).is_err());
        c.org_len = Some(9);
        assert_eq!(Content::from_bytes(&c.to_bytes()), Ok(c));
    }
}

#[test]
fn unknown_kinds_and_fields_are_tolerated_versions_are_not() {
    let newer = br#"{"v":1,"id":"0123456789abcdef0123456789abcdef","sent_at":1,"body":{"kind":"poll","question":"?"},"future":true}"#;
    assert_eq!(
        Content::from_bytes(newer).map(|c| c.body),
        Ok(Body::Unknown)
    );
    let v2 = br#"{"v":2,"id":"0123456789abcdef0123456789abcdef","sent_at":1,"body":{"kind":"typing","started":true}}"#;
    assert_eq!(
        Content::from_bytes(v2),
        Err(ContentError::UnsupportedVersion(2))
    );
    assert_eq!(Content::from_bytes(b"{}"), Err(ContentError::Malformed));
    let bad_id = br#"{"v":1,"id":"xyz","sent_at":1,"body":{"kind":"typing","started":true}}"#;
    assert_eq!(Content::from_bytes(bad_id), Err(ContentError::Malformed));
    assert_eq!(
        Content::from_bytes(&vec![b' '; MAX_CONTENT_LEN + 1]),
        Err(ContentError::TooLarge)
    );
}

#[test]
fn limits_are_checked() {
    let long = Body::Text {
        text: "x".repeat(MAX_TEXT_LEN + 1),
        reply_to: None,
        mentions: vec![],
        mention_all: false,
    };
    let c = Content::new(MessageId([0; 16]), 0, long);
    assert_eq!(
        Content::from_bytes(&c.to_bytes()),
        Err(ContentError::OverLimit("text"))
    );
    let mut c = Content::new(MessageId([0; 16]), 0, Body::Typing { started: false });
    c.org_head = Some(B64(vec![0; 5]));
    assert!(Content::from_bytes(&c.to_bytes()).is_err());
}

#[test]
fn a_task_needs_a_title_and_comments_need_words() {
    let task = |change| {
        let body = Body::Task {
            task: TaskId([1; 16]),
            stamp: 1,
            change,
        };
        Content::from_bytes(&Content::new(MessageId([0; 16]), 0, body).to_bytes())
    };
    let create = |title: &str| TaskChange::Create {
        title: title.into(),
        assignee: user("bob"),
        deadline: None,
        description: None,
    };
    assert_eq!(
        task(create(" ")).map(|_| ()),
        Err(ContentError::OverLimit("task title"))
    );
    assert_eq!(
        task(create(&"x".repeat(MAX_SHORT_LEN + 1))).map(|_| ()),
        Err(ContentError::OverLimit("task title"))
    );
    assert_eq!(
        task(TaskChange::Comment { text: "".into() }).map(|_| ()),
        Err(ContentError::OverLimit("comment"))
    );
    assert!(task(create("Report")).is_ok());
    let far = |stamp, deadline| {
        let body = Body::Task {
            task: TaskId([1; 16]),
            stamp,
            change: TaskChange::Deadline { deadline },
        };
        Content::from_bytes(&Content::new(MessageId([0; 16]), 0, body).to_bytes()).map(|_| ())
    };
    assert_eq!(far(MAX_TASK_TIME, Some(MAX_TASK_TIME)), Ok(()));
    assert_eq!(
        far(u64::MAX, None),
        Err(ContentError::OverLimit("task stamp"))
    );
    assert_eq!(
        far(1, Some(MAX_TASK_TIME + 1)),
        Err(ContentError::OverLimit("task deadline"))
    );
    assert_eq!(
        TaskStatus::parse("in-progress"),
        Some(TaskStatus::InProgress)
    );
    assert_eq!(TaskStatus::parse("later"), None);
}

#[test]
fn attachment_ids_are_exactly_the_relays_form() {
    assert!(is_attachment_id(&"0123456789abcdef".repeat(2)));
    for bad in [
        String::new(),
        "0".repeat(31),
        "0".repeat(33),
        "A".repeat(32),
        "g".repeat(32),
        format!("{}/../x", "0".repeat(26)),
        "../../../../../../v1/org/log?x".into(),
        format!("{}%2f", "0".repeat(29)),
        format!("{}\u{e9}", "0".repeat(30)),
    ] {
        assert!(!is_attachment_id(&bad), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Content::from_bytes(&bytes);
    }
}
