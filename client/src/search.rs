//! Directory search: colleagues found by any field of the directory entry an admin signed
//! into the org log (docs/architecture.md §2, §7), so nobody adds contacts by hand and the
//! relay is never asked.
//!
//! **Matching.** Text is compared folded: lowercase by Unicode's rules, `ё` as `е`, split
//! into words at anything that is not a letter or a digit. A person matches when every word
//! of the query starts some word of their entry (display name, user id, job title,
//! department, email, phone): "бухг" finds "Главный бухгалтер", "acc" finds "Senior
//! Accountant", "ivan buh" finds Ivan of accounting. A phone number is also one word of its
//! digits, so "4951234" finds "+7 (495) 123-45-67".
//!
//! **Ranking.** Each query word scores its best match: a whole word beats a prefix, and the
//! name beats the user id, which beats title and department, which beat email and phone; the
//! first word of a field scores a little more. A query that starts the display name itself
//! adds a bonus. Ties go by display name, then user id. Dismissed colleagues are found only
//! when asked for.
//!
//! The [`DirectoryIndex`] folds every entry once; a search is a scan over the folded words
//! (10,000 people in well under a millisecond, `cargo bench -p parley-client --bench
//! directory`, docs/benchmarks.md).

use std::sync::Arc;

use parley_proto::UserId;
use parley_proto::org::OrgState;

use crate::error::Result;
use crate::messaging::Messenger;

/// The field a match was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Display name.
    Name,
    /// User id.
    User,
    /// Job title.
    Title,
    /// Department.
    Department,
    /// Email address.
    Email,
    /// Phone number or extension.
    Phone,
}

impl Field {
    /// How much a match in this field counts.
    fn weight(self) -> u32 {
        match self {
            Self::Name => 6,
            Self::User => 5,
            Self::Title | Self::Department => 4,
            Self::Email | Self::Phone => 2,
        }
    }

    /// The field's name, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::User => "user",
            Self::Title => "title",
            Self::Department => "department",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// One person found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Who.
    pub user: UserId,
    /// The field the query matched best (for an empty query, the name).
    pub field: Field,
    /// The rank's score: higher is better.
    pub score: u32,
}

/// A folded word of an entry.
#[derive(Debug)]
struct Word {
    text: String,
    field: Field,
    /// The first word of its field.
    first: bool,
}

#[derive(Debug)]
struct Person {
    user: UserId,
    /// The folded display name (ties are ordered by it; the whole-name bonus starts it).
    name: String,
    dismissed: bool,
    words: Vec<Word>,
}

/// Every colleague of a verified org log, folded for search. Build it again when the log
/// changes ([`OrgState::head`]).
#[derive(Debug)]
pub struct DirectoryIndex {
    people: Vec<Person>,
}

/// `text` lowercased by Unicode's rules, with `ё` as `е`.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// The folded words of `text`.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
}

impl DirectoryIndex {
    /// Folds the directory of `org`.
    pub fn new(org: &OrgState) -> Self {
        let people = org
            .users()
            .map(|(user, record)| {
                let p = &record.profile;
                let mut all = Vec::new();
                for (field, text) in [
                    (Field::Name, p.display_name.as_str()),
                    (Field::User, user.as_str()),
                    (Field::Title, p.title.as_str()),
                    (Field::Department, p.department.as_str()),
                    (Field::Email, p.email.as_str()),
                    (Field::Phone, p.phone.as_str()),
                ] {
                    all.extend(words(text).enumerate().map(|(i, text)| Word {
                        text,
                        field,
                        first: i == 0,
                    }));
                }
                let digits: String = p.phone.chars().filter(char::is_ascii_digit).collect();
                if !digits.is_empty() {
                    all.push(Word {
                        text: digits,
                        field: Field::Phone,
                        first: false,
                    });
                }
                Person {
                    user: user.clone(),
                    name: fold(&p.display_name),
                    dismissed: record.dismissed,
                    words: all,
                }
            })
            .collect();
        Self { people }
    }

    /// How many people it holds (dismissed ones included).
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Whether it holds nobody.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The people `query` finds, best first, at most `limit` of them; dismissed colleagues
    /// only if `former`. An empty query finds everyone, by name.
    pub fn search(&self, query: &str, former: bool, limit: usize) -> Vec<Hit> {
        let query_words: Vec<String> = words(query).collect();
        let whole = query_words.join(" ");
        let mut hits: Vec<(&Person, Hit)> = self
            .people
            .iter()
            .filter(|p| former || !p.dismissed)
            .filter_map(|p| {
                let mut score = 0;
                let mut best: Option<(u32, Field)> = None;
                for q in &query_words {
                    let (s, field) = p
                        .words
                        .iter()
                        .filter_map(|w| word_score(q, w).map(|s| (s, w.field)))
                        .max_by_key(|(s, _)| *s)?;
                    score += s;
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, field));
                    }
                }
                if !whole.is_empty() && p.name.starts_with(&whole) {
                    score += 20;
                }
                Some((
                    p,
                    Hit {
                        user: p.user.clone(),
                        field: best.map_or(Field::Name, |(_, f)| f),
                        score,
                    },
                ))
            })
            .collect();
        hits.sort_by(|(pa, a), (pb, b)| {
            b.score
                .cmp(&a.score)
                .then_with(|| pa.name.cmp(&pb.name))
                .then_with(|| a.user.cmp(&b.user))
        });
        hits.into_iter().take(limit).map(|(_, h)| h).collect()
    }
}

impl Messenger {
    /// Searches the directory of the verified org log as stored (see [`DirectoryIndex::search`]);
    /// no relay round trip. The delivery socket's "log advanced" keeps the stored log current;
    /// [`Messenger::org`] brings it up to date first for a caller that is not listening.
    pub async fn search_directory(
        &self,
        query: &str,
        former: bool,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        Ok(self.directory_index().await?.search(query, former, limit))
    }

    /// The folded directory, built once per stored log.
    pub async fn directory_index(&self) -> Result<Arc<DirectoryIndex>> {
        if let Some(index) = self.cached_directory() {
            return Ok(index);
        }
        let mut tx = self.store().begin().await?;
        let state = self.stored_log(&mut tx).await?;
        tx.commit().await?;
        let index = Arc::new(DirectoryIndex::new(&state));
        if let Ok(mut cached) = self.directory.lock() {
            *cached = Some(Arc::clone(&index));
        }
        Ok(index)
    }

    fn cached_directory(&self) -> Option<Arc<DirectoryIndex>> {
        self.directory.lock().ok()?.clone()
    }

    /// Drops what was derived from the stored log (the folded directory, the policy): the
    /// stored log changed.
    pub(crate) fn forget_log_caches(&self) {
        if let Ok(mut cached) = self.directory.lock() {
            *cached = None;
        }
        if let Ok(mut cached) = self.log_facts.lock() {
            *cached = None;
        }
    }
}

/// What query word `q` scores against `w`, if it starts it.
fn word_score(q: &str, w: &Word) -> Option<u32> {
    if !w.text.starts_with(q) {
        return None;
    }
    let exact = if w.text.len() == q.len() { 2 } else { 1 };
    Some(w.field.weight() * 4 + exact * 2 + u32::from(w.first))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use parley_crypto::keys::{SigningKeyPair, os_rng};
    use parley_proto::org::{OrgBody, OrgEntry, Profile};

    fn person(name: &str, title: &str, department: &str, phone: &str) -> Profile {
        Profile {
            display_name: name.into(),
            email: format!("{}@example.com", name.split(' ').next().unwrap_or("x")),
            title: title.into(),
            department: department.into(),
            phone: phone.into(),
        }
    }

    /// An org whose root key added these users (the last one dismissed if `dismiss_last`).
    fn org(people: &[(&str, Profile)], dismiss_last: bool) -> OrgState {
        let root = SigningKeyPair::generate(&mut os_rng());
        let genesis = OrgEntry::genesis(&root, "Acme", 100);
        let mut state = OrgState::new(&genesis, &genesis.hash()).expect("genesis");
        let mut bodies: Vec<OrgBody> = people
            .iter()
            .map(|(user, profile)| OrgBody::UserAdded {
                user: UserId::new(*user).expect("id"),
                profile: profile.clone(),
            })
            .collect();
        if dismiss_last && let Some((user, _)) = people.last() {
            bodies.push(OrgBody::UserDismissed {
                user: UserId::new(*user).expect("id"),
            });
        }
        for (t, body) in bodies.into_iter().enumerate() {
            let entry = OrgEntry::after(&state.head(), body, &root, 101 + t as u64);
            state.apply(&entry).expect("valid");
        }
        state
    }

    fn found(index: &DirectoryIndex, query: &str) -> Vec<String> {
        index
            .search(query, false, 100)
            .into_iter()
            .map(|h| h.user.to_string())
            .collect()
    }

    fn sample() -> DirectoryIndex {
        DirectoryIndex::new(&org(
            &[
                (
                    "olga",
                    person(
                        "Ольга Семёнова",
                        "Главный бухгалтер",
                        "Бухгалтерия",
                        "+7 (495) 123-45-67",
                    ),
                ),
                ("sam", person("Sam Accardo", "Engineer", "Platform", "2201")),
                (
                    "anna",
                    person("Anna Berg", "Senior Accountant", "Finance", "2202"),
                ),
                ("ivan", person("Иван Бухов", "Водитель", "Логистика", "")),
                ("gone", person("Accent Former", "Accountant", "Finance", "")),
            ],
            true,
        ))
    }

    #[test]
    fn prefixes_of_words_in_any_field_case_and_yo_folded() {
        let index = sample();
        assert_eq!(found(&index, "бухг"), ["olga"]);
        assert_eq!(found(&index, "БУХГАЛТЕР"), ["olga"]);
        assert_eq!(found(&index, "семенова"), ["olga"], "ё is е");
        assert_eq!(found(&index, "4951234567"), Vec::<String>::new());
        assert_eq!(
            found(&index, "74951234567"),
            ["olga"],
            "phone digits as one word"
        );
        assert_eq!(
            found(&index, "finance senior"),
            ["anna"],
            "every word must match"
        );
        assert_eq!(found(&index, "nobody"), Vec::<String>::new());
        assert_eq!(
            found(&index, "buh"),
            Vec::<String>::new(),
            "no transliteration"
        );
    }

    #[test]
    fn names_rank_before_titles_and_dismissed_only_when_asked() {
        let index = sample();
        // "acc": Sam's surname (name) before Anna's title.
        assert_eq!(found(&index, "acc"), ["sam", "anna"]);
        let with_former: Vec<String> = index
            .search("acc", true, 100)
            .into_iter()
            .map(|h| h.user.to_string())
            .collect();
        assert_eq!(
            with_former,
            ["gone", "sam", "anna"],
            "name start bonus first"
        );
        let hit = &index.search("accountant", false, 10)[0];
        assert_eq!((hit.user.as_str(), hit.field), ("anna", Field::Title));
        // "бух": Иван Бухов by name before Ольга by title and department.
        assert_eq!(found(&index, "бух"), ["ivan", "olga"]);
    }

    #[test]
    fn empty_query_lists_everyone_by_name_and_limit_holds() {
        let index = sample();
        assert_eq!(found(&index, "  "), ["anna", "sam", "ivan", "olga"]);
        assert_eq!(index.search("", false, 2).len(), 2);
        assert_eq!(index.len(), 5);
    }
}
