//! The private halves: [`PreKeyStore`], the keys it keeps and their versioned encoding for the
//! encrypted local store.

use super::*;

#[derive(Clone)]
struct SignedPreKey {
    id: u32,
    key: KeyPair,
    signature: Signature,
    created_at: u64,
}

#[derive(Clone)]
struct KemPreKey {
    id: u32,
    kind: KemPreKeyKind,
    key: KemKeyPair,
    signature: Signature,
}

impl KemPreKey {
    fn public(&self) -> KemPreKeyPublic {
        KemPreKeyPublic {
            id: self.id,
            kind: self.kind,
            key: self.key.public().clone(),
            signature: self.signature,
        }
    }
}

/// A device's private prekeys.
#[derive(Clone)]
pub struct PreKeyStore {
    signed: VecDeque<SignedPreKey>,
    last_resort: VecDeque<KemPreKey>,
    one_time: BTreeMap<u32, OneTimeKey>,
    one_time_kem: BTreeMap<u32, KemPreKey>,
    seen_base_keys: VecDeque<(u32, [u8; 32])>,
    next_id: u32,
}

/// A one-time X25519 prekey as the store keeps it: its secret, and the key pair built from it
/// on first use. A store holds up to [`MAX_ONE_TIME_PREKEYS`] of these and is decoded for
/// every prekey message received, which uses at most one: building each pair (a base-point
/// multiplication) at decode time cost about a millisecond per message.
#[derive(Clone)]
struct OneTimeKey {
    secret: Zeroizing<[u8; 32]>,
    pair: std::sync::OnceLock<KeyPair>,
}

impl OneTimeKey {
    fn new(pair: KeyPair) -> Self {
        Self {
            secret: pair.secret_bytes(),
            pair: std::sync::OnceLock::from(pair),
        }
    }

    fn from_secret(secret: Zeroizing<[u8; 32]>) -> Self {
        Self {
            secret,
            pair: std::sync::OnceLock::new(),
        }
    }

    fn pair(&self) -> &KeyPair {
        self.pair
            .get_or_init(|| KeyPair::from_secret_bytes(&self.secret))
    }
}

impl core::fmt::Debug for PreKeyStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            signed,
            last_resort,
            one_time,
            one_time_kem,
            seen_base_keys,
            next_id,
        } = self;
        f.debug_struct("PreKeyStore")
            .field("signed", &signed.len())
            .field("last_resort", &last_resort.len())
            .field("one_time", &one_time.len())
            .field("one_time_kem", &one_time_kem.len())
            .field("seen_base_keys", &seen_base_keys.len())
            .field("next_id", next_id)
            .finish()
    }
}

impl PreKeyStore {
    /// A store that holds no key: what a [`crate::session_record::LocalDevice`] needs to decrypt
    /// a ratchet message, which only an existing session can decrypt and which never reads or
    /// changes prekeys. Decoding the real store costs one X25519 public key per one-time
    /// prekey (tens of them) on every received message; this costs nothing.
    pub fn empty() -> Self {
        Self {
            signed: VecDeque::new(),
            last_resort: VecDeque::new(),
            one_time: BTreeMap::new(),
            one_time_kem: BTreeMap::new(),
            seen_base_keys: VecDeque::new(),
            next_id: 1,
        }
    }

    /// A store with a fresh signed prekey and last-resort KEM prekey, and no one-time keys.
    pub fn new(identity: &IdentityKeyPair, now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut store = Self::empty();
        store.rotate(identity, now, rng);
        store
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        // Wrapping is harmless: ids only need to be unique among the keys currently held, and
        // 2^32 generations is far beyond any device's life.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn new_kem(
        &mut self,
        identity: &IdentityKeyPair,
        kind: KemPreKeyKind,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> KemPreKey {
        let id = self.take_id();
        let key = KemKeyPair::generate(rng);
        let signature = SignedContent::Kem {
            kind,
            id,
            key: key.public(),
        }
        .sign(identity);
        KemPreKey {
            id,
            kind,
            key,
            signature,
        }
    }

    /// Replaces the signed prekey and the last-resort KEM prekey with new ones (weekly, per
    /// docs/architecture.md §4), keeping the previous ones for sessions begun from an older bundle.
    pub fn rotate(
        &mut self,
        identity: &IdentityKeyPair,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) {
        let id = self.take_id();
        let key = KeyPair::generate(rng);
        let signature = SignedContent::X25519 {
            id,
            key: key.public(),
        }
        .sign(identity);
        self.signed.push_back(SignedPreKey {
            id,
            key,
            signature,
            created_at: now,
        });
        let kem = self.new_kem(identity, KemPreKeyKind::LastResort, rng);
        let retired = self.last_resort.iter().map(|k| k.id).collect::<Vec<_>>();
        self.last_resort.push_back(kem);
        while self.signed.len() > KEPT_ROTATED_KEYS {
            self.signed.pop_front();
        }
        while self.last_resort.len() > KEPT_ROTATED_KEYS {
            self.last_resort.pop_front();
        }
        // Base keys seen with a deleted last-resort key can never be replayed again.
        let kept: Vec<u32> = self.last_resort.iter().map(|k| k.id).collect();
        if retired.iter().any(|id| !kept.contains(id)) {
            self.seen_base_keys.retain(|(id, _)| kept.contains(id));
        }
    }

    /// When the current signed prekey was made (for weekly rotation).
    pub fn signed_prekey_created_at(&self) -> Option<u64> {
        self.signed.back().map(|k| k.created_at)
    }

    /// The public current signed prekey.
    pub fn signed_prekey(&self) -> Option<SignedPreKeyPublic> {
        self.signed.back().map(|k| SignedPreKeyPublic {
            id: k.id,
            key: *k.key.public(),
            signature: k.signature,
        })
    }

    /// The public current last-resort KEM prekey.
    pub fn last_resort_kem_prekey(&self) -> Option<KemPreKeyPublic> {
        self.last_resort.back().map(KemPreKey::public)
    }

    /// Number of one-time X25519 and KEM prekeys held.
    pub fn one_time_counts(&self) -> (usize, usize) {
        (self.one_time.len(), self.one_time_kem.len())
    }

    /// Deletes the `x25519` oldest one-time X25519 prekeys and the `kem` oldest one-time KEM
    /// prekeys (lowest ids). The relay hands one-time prekeys out oldest first, so when the
    /// relay reports `r` left of the `h` held here, the `h - r` oldest were claimed by peers
    /// who have not used them yet (and may never); forgetting them makes room for fresh ones.
    pub fn forget_oldest_one_time(&mut self, x25519: usize, kem: usize) {
        for _ in 0..x25519 {
            self.one_time.pop_first();
        }
        for _ in 0..kem {
            self.one_time_kem.pop_first();
        }
    }

    /// Generates up to `count` one-time prekeys of each kind, never holding more than
    /// [`MAX_ONE_TIME_PREKEYS`] of either, and returns the public halves to upload.
    pub fn generate_one_time(
        &mut self,
        identity: &IdentityKeyPair,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> (Vec<OneTimePreKeyPublic>, Vec<KemPreKeyPublic>) {
        let ec_count = count.min(MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time.len()));
        let kem_count = count.min(MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time_kem.len()));
        let mut ec = Vec::with_capacity(ec_count);
        for _ in 0..ec_count {
            let id = self.take_id();
            let key = KeyPair::generate(rng);
            ec.push(OneTimePreKeyPublic {
                id,
                key: *key.public(),
            });
            self.one_time.insert(id, OneTimeKey::new(key));
        }
        let mut kem = Vec::with_capacity(kem_count);
        for _ in 0..kem_count {
            let key = self.new_kem(identity, KemPreKeyKind::OneTime, rng);
            kem.push(key.public());
            self.one_time_kem.insert(key.id, key);
        }
        (ec, kem)
    }

    /// A bundle for this device as the relay would hand it out, taking the lowest-numbered
    /// one-time keys (for tests and for a local simulation of the relay).
    pub fn bundle(&self, identity: &PublicIdentity) -> Option<PreKeyBundle> {
        let kem_prekey = match self.one_time_kem.values().next() {
            Some(k) => k.public(),
            None => self.last_resort_kem_prekey()?,
        };
        Some(PreKeyBundle::new(
            *identity,
            self.signed_prekey()?,
            kem_prekey,
            self.one_time
                .iter()
                .next()
                .map(|(id, k)| OneTimePreKeyPublic {
                    id: *id,
                    key: *k.pair().public(),
                }),
        ))
    }

    pub(crate) fn signed_key(&self, id: u32) -> Result<&KeyPair, Error> {
        self.signed
            .iter()
            .find(|k| k.id == id)
            .map(|k| &k.key)
            .ok_or(Error::UnknownPreKey)
    }

    /// Finds a KEM prekey, refusing a replayed (last-resort key, base key) pair.
    pub(crate) fn kem_key(&self, id: u32, base_key: &PublicKey) -> Result<&KemKeyPair, Error> {
        if let Some(k) = self.one_time_kem.get(&id) {
            return Ok(&k.key);
        }
        let k = self
            .last_resort
            .iter()
            .find(|k| k.id == id)
            .ok_or(Error::UnknownPreKey)?;
        if self
            .seen_base_keys
            .iter()
            .any(|(kid, b)| *kid == id && b == base_key.as_bytes())
        {
            return Err(Error::ReplayedPreKeyMessage);
        }
        Ok(&k.key)
    }

    pub(crate) fn one_time_key(&self, id: u32) -> Result<&KeyPair, Error> {
        self.one_time
            .get(&id)
            .map(OneTimeKey::pair)
            .ok_or(Error::UnknownPreKey)
    }

    /// Deletes the one-time prekeys a session used and remembers its base key, once the
    /// session's first message has decrypted.
    pub fn consume(&mut self, used: &UsedPreKeys) {
        if let Some(id) = used.one_time_prekey_id {
            self.one_time.remove(&id);
        }
        if self.one_time_kem.remove(&used.kem_prekey_id).is_none() {
            if self.seen_base_keys.len() >= MAX_REMEMBERED_BASE_KEYS {
                self.seen_base_keys.pop_front();
            }
            self.seen_base_keys
                .push_back((used.kem_prekey_id, used.base_key.to_bytes()));
        }
    }

    /// Versioned encoding (holds private keys: for the encrypted local store only).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(PROTOCOL_VERSION);
        out.put_u32(self.next_id);
        out.put_len(self.signed.len());
        for k in &self.signed {
            out.put_u32(k.id);
            out.put_raw(&k.key.secret_bytes()[..]);
            out.put_raw(&k.signature.0);
            out.put_u64(k.created_at);
        }
        out.put_len(self.last_resort.len());
        for k in &self.last_resort {
            write_kem(&mut out, k);
        }
        out.put_len(self.one_time.len());
        for (id, k) in &self.one_time {
            out.put_u32(*id);
            out.put_raw(&k.secret[..]);
        }
        out.put_len(self.one_time_kem.len());
        for k in self.one_time_kem.values() {
            write_kem(&mut out, k);
        }
        out.put_len(self.seen_base_keys.len());
        for (id, base) in &self.seen_base_keys {
            out.put_u32(*id);
            out.put_raw(base);
        }
        out
    }

    /// Decodes a store.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let next_id = r.u32()?;
        let n = r.count(KEPT_ROTATED_KEYS, 108)?;
        let mut signed = VecDeque::with_capacity(n);
        for _ in 0..n {
            signed.push_back(SignedPreKey {
                id: r.u32()?,
                key: KeyPair::read(&mut r)?,
                signature: Signature::read(&mut r)?,
                created_at: r.u64()?,
            });
        }
        let n = r.count(KEPT_ROTATED_KEYS, 132)?;
        let mut last_resort = VecDeque::with_capacity(n);
        for _ in 0..n {
            last_resort.push_back(read_kem(&mut r, KemPreKeyKind::LastResort)?);
        }
        let n = r.count(MAX_ONE_TIME_PREKEYS, 36)?;
        let mut one_time = BTreeMap::new();
        for _ in 0..n {
            let id = r.u32()?;
            // Ids are written in increasing order; anything else is not our encoding.
            if one_time
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(DecodeError::InvalidValue);
            }
            one_time.insert(id, OneTimeKey::from_secret(r.secret::<32>()?));
        }
        let n = r.count(MAX_ONE_TIME_PREKEYS, 132)?;
        let mut one_time_kem = BTreeMap::new();
        for _ in 0..n {
            let k = read_kem(&mut r, KemPreKeyKind::OneTime)?;
            if one_time_kem
                .last_key_value()
                .is_some_and(|(last, _)| *last >= k.id)
            {
                return Err(DecodeError::InvalidValue);
            }
            one_time_kem.insert(k.id, k);
        }
        let n = r.count(MAX_REMEMBERED_BASE_KEYS, 36)?;
        let mut seen_base_keys = VecDeque::with_capacity(n);
        for _ in 0..n {
            seen_base_keys.push_back((r.u32()?, r.array()?));
        }
        r.finish()?;
        Ok(Self {
            signed,
            last_resort,
            one_time,
            one_time_kem,
            seen_base_keys,
            next_id,
        })
    }
}

fn write_kem(out: &mut Vec<u8>, k: &KemPreKey) {
    out.put_u32(k.id);
    out.put_raw(k.key.seed());
    out.put_raw(&k.signature.0);
}

fn read_kem(r: &mut Reader<'_>, kind: KemPreKeyKind) -> Result<KemPreKey, DecodeError> {
    Ok(KemPreKey {
        id: r.u32()?,
        kind,
        key: KemKeyPair::read(r)?,
        signature: Signature::read(r)?,
    })
}
