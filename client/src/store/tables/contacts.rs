//! The `contacts` table: the cached directory entry of each colleague.

use error::StoreResult;
use records::Contact;

use super::super::*;

impl StoreTx<'_> {
    pub(in crate::store) fn contact_lookup(&self, user: &str) -> [u8; 32] {
        self.store.sealer.lookup("contact", user.as_bytes())
    }

    /// The cached directory entry of `user`.
    pub async fn contact(&mut self, user: &str) -> StoreResult<Option<Contact>> {
        let lookup = self.contact_lookup(user);
        self.get_record(T_CONTACTS, "lookup", &lookup)
            .await?
            .map(|b| Contact::decode(&b).map_err(malformed(T_CONTACTS)))
            .transpose()
    }

    /// Stores (or replaces) a directory entry.
    pub async fn set_contact(&mut self, contact: &Contact) -> StoreResult<()> {
        let lookup = self.contact_lookup(&contact.user);
        self.put_record(T_CONTACTS, "lookup", &lookup, &contact.encode())
            .await
    }

    /// Deletes the entry of `user`; true if there was one.
    pub async fn delete_contact(&mut self, user: &str) -> StoreResult<bool> {
        let lookup = self.contact_lookup(user);
        self.delete_record(T_CONTACTS, "lookup", &lookup).await
    }

    /// Every cached directory entry (in no meaningful order).
    pub async fn contacts(&mut self) -> StoreResult<Vec<Contact>> {
        self.all_records(T_CONTACTS, "lookup")
            .await?
            .into_iter()
            .map(|(_, b)| Contact::decode(&b).map_err(malformed(T_CONTACTS)))
            .collect()
    }
}
