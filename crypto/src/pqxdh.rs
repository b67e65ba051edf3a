//! PQXDH key agreement, as Signal's "The PQXDH Key Agreement Protocol" (revision 3), with the
//! parameters of docs/architecture.md §3: curve X25519, hash SHA-256, `PQKEM` ML-KEM-1024, info
//! [`PQXDH_INFO`], and Ed25519 device signing keys in place of XEdDSA.
//!
//! Spec §3.3 (initiator): verify the prekey signatures; generate `EK_A`; compute
//! `DH1 = DH(IK_A, SPK_B)`, `DH2 = DH(EK_A, IK_B)`, `DH3 = DH(EK_A, SPK_B)`, optionally
//! `DH4 = DH(EK_A, OPK_B)`; `(CT, SS) = PQKEM-ENC(PQPK_B)`; `SK = KDF(DH1 || DH2 || DH3 [|| DH4] || SS)`
//! where `KDF` is HKDF-SHA256 over `F || KM` with `F` = 32 `0xFF` bytes, a zero salt and the info
//! string (§2.2). Every DH result must be contributory (§4.1). Spec §3.4 (responder): repeat the
//! computation from its private keys. The associated data `AD = Encode(IK_A) || Encode(IK_B)` is
//! folded into the Double Ratchet's associated data ([`crate::session`]), which also binds the
//! device addresses.
//!
//! Nothing here deletes a prekey: [`respond`] only reads the [`PreKeyStore`], and the caller
//! consumes the prekeys after the first message decrypts (§4.2, §4.6).

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::consts::PQXDH_INFO;
use crate::error::Error;
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::kdf::hkdf;
use crate::kem::KemCiphertext;
use crate::keys::{KeyPair, PublicKey, SigningPublicKey};
use crate::prekeys::{PreKeyBundle, PreKeyStore, UsedPreKeys};

/// The PQXDH part of an initial message: what the responder needs to derive `SK`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyInit {
    /// The initiator's identity (the caller checks it against the org log).
    pub identity: PublicIdentity,
    /// The signing key of the device this message is for.
    pub recipient: SigningPublicKey,
    /// The initiator's ephemeral key `EK_A`, also the session's identifier.
    pub base_key: PublicKey,
    /// Which signed prekey was used.
    pub signed_prekey_id: u32,
    /// Which KEM prekey was used.
    pub kem_prekey_id: u32,
    /// The KEM ciphertext `CT`.
    pub kem_ciphertext: KemCiphertext,
    /// Which one-time prekey was used, if any.
    pub one_time_prekey_id: Option<u32>,
}

impl PreKeyInit {
    /// Appends the encoding (without a version byte: it is part of a versioned message).
    pub fn write(&self, out: &mut Vec<u8>) {
        self.identity.write(out);
        out.put_raw(self.recipient.as_bytes());
        out.put_raw(self.base_key.as_bytes());
        out.put_u32(self.signed_prekey_id);
        out.put_u32(self.kem_prekey_id);
        out.put_raw(&self.kem_ciphertext.0[..]);
        match self.one_time_prekey_id {
            None => out.put_u8(0),
            Some(id) => {
                out.put_u8(1);
                out.put_u32(id);
            }
        }
    }

    /// Reads and validates the fields (the identity's self-signature included).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let identity = PublicIdentity::read(r)?;
        Ok(Self {
            identity,
            recipient: SigningPublicKey::read(r)?,
            base_key: PublicKey::read(r)?,
            signed_prekey_id: r.u32()?,
            kem_prekey_id: r.u32()?,
            kem_ciphertext: KemCiphertext::read(r)?,
            one_time_prekey_id: if r.bool()? { Some(r.u32()?) } else { None },
        })
    }
}

/// The shared secret `SK` (32 bytes).
pub type SessionSecret = Zeroizing<[u8; 32]>;

fn derive_sk(dhs: &[&[u8; 32]], kem_secret: &[u8; 32]) -> SessionSecret {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * 6));
    ikm.extend_from_slice(&[0xff; 32]);
    for dh in dhs {
        ikm.extend_from_slice(&dh[..]);
    }
    ikm.extend_from_slice(kem_secret);
    hkdf::<32>(&[0u8; 32], &ikm, PQXDH_INFO)
}

/// Initiator side (spec §3.3): checks the bundle and derives `SK`. Returns `SK`, the message
/// header for the responder, and the responder's signed prekey (the first ratchet key).
///
/// The prekey signatures are verified here, unless the bundle was decoded by
/// [`PreKeyBundle::from_bytes`] (which verified them) and its signed parts are unchanged.
pub fn initiate(
    ours: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(SessionSecret, PreKeyInit), Error> {
    bundle.ensure_verified()?;
    let ephemeral = KeyPair::generate(rng);
    let spk = &bundle.signed_prekey.key;
    let dh1 = ours.dh().dh(spk)?;
    let dh2 = ephemeral.dh(bundle.identity.dh_key())?;
    let dh3 = ephemeral.dh(spk)?;
    let dh4 = bundle
        .one_time_prekey
        .as_ref()
        .map(|k| ephemeral.dh(&k.key))
        .transpose()?;
    let (kem_ciphertext, ss) = bundle.kem_prekey.key.encapsulate(rng);
    let mut dhs = vec![&*dh1, &*dh2, &*dh3];
    if let Some(dh4) = &dh4 {
        dhs.push(dh4);
    }
    let sk = derive_sk(&dhs, &ss);
    let init = PreKeyInit {
        identity: *ours.public(),
        recipient: *bundle.identity.signing_key(),
        base_key: *ephemeral.public(),
        signed_prekey_id: bundle.signed_prekey.id,
        kem_prekey_id: bundle.kem_prekey.id,
        kem_ciphertext,
        one_time_prekey_id: bundle.one_time_prekey.as_ref().map(|k| k.id),
    };
    Ok((sk, init))
}

/// Responder side (spec §3.4): derives `SK` from the store's private keys without changing the
/// store. Returns `SK`, a copy of the signed prekey pair (the responder's first ratchet key),
/// and the prekeys to consume once the first message decrypts.
pub fn respond(
    ours: &IdentityKeyPair,
    store: &PreKeyStore,
    init: &PreKeyInit,
) -> Result<(SessionSecret, KeyPair, UsedPreKeys), Error> {
    if init.recipient != *ours.public().signing_key() {
        return Err(Error::WrongRecipient);
    }
    let spk = store.signed_key(init.signed_prekey_id)?;
    let kem = store.kem_key(init.kem_prekey_id, &init.base_key)?;
    let opk = init
        .one_time_prekey_id
        .map(|id| store.one_time_key(id))
        .transpose()?;
    let dh1 = spk.dh(init.identity.dh_key())?;
    let dh2 = ours.dh().dh(&init.base_key)?;
    let dh3 = spk.dh(&init.base_key)?;
    let dh4 = opk.map(|k| k.dh(&init.base_key)).transpose()?;
    let ss = kem.decapsulate(&init.kem_ciphertext);
    let mut dhs = vec![&*dh1, &*dh2, &*dh3];
    if let Some(dh4) = &dh4 {
        dhs.push(dh4);
    }
    let sk = derive_sk(&dhs, &ss);
    let used = UsedPreKeys {
        kem_prekey_id: init.kem_prekey_id,
        one_time_prekey_id: init.one_time_prekey_id,
        base_key: init.base_key,
    };
    Ok((sk, spk.clone(), used))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup(one_time: bool) -> (IdentityKeyPair, IdentityKeyPair, PreKeyStore, PreKeyBundle) {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = IdentityKeyPair::generate(&mut rng);
        let mut store = PreKeyStore::new(&bob, 0, &mut rng);
        if one_time {
            store.generate_one_time(&bob, 3, &mut rng);
        }
        let bundle = store.bundle(bob.public()).unwrap();
        (alice, bob, store, bundle)
    }

    #[test]
    fn both_sides_agree_with_and_without_one_time_prekeys() {
        for one_time in [true, false] {
            let (alice, bob, store, bundle) = setup(one_time);
            assert_eq!(bundle.one_time_prekey.is_some(), one_time);
            let mut rng = ChaCha20Rng::from_seed([8; 32]);
            let (sk_a, init) = initiate(&alice, &bundle, &mut rng).unwrap();
            let (sk_b, _, used) = respond(&bob, &store, &init).unwrap();
            assert_eq!(*sk_a, *sk_b);
            assert_eq!(used.one_time_prekey_id.is_some(), one_time);
        }
    }

    #[test]
    fn bad_signatures_are_rejected() {
        let (alice, _, _, bundle) = setup(true);
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        let mut b = bundle.clone();
        b.signed_prekey.signature.0[0] ^= 1;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        let mut b = bundle.clone();
        b.kem_prekey.signature.0[5] ^= 1;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        // A one-time KEM key relabelled as last-resort breaks its signature.
        let mut b = bundle.clone();
        b.kem_prekey.kind = crate::prekeys::KemPreKeyKind::LastResort;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        // A signed prekey under another id.
        let mut b = bundle;
        b.signed_prekey.id += 1;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
    }

    /// A decoded bundle is not verified again, but changing any signed part of it after
    /// decoding brings the check back.
    #[test]
    fn a_decoded_bundle_changed_afterwards_is_verified_again() {
        let (alice, bob, _, bundle) = setup(true);
        let mut rng = ChaCha20Rng::from_seed([11; 32]);
        let decoded = PreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap();
        assert_eq!(decoded, bundle);
        assert!(initiate(&alice, &decoded, &mut rng).is_ok());

        let mut b = decoded.clone();
        b.signed_prekey.signature.0[0] ^= 1;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        let mut b = decoded.clone();
        b.kem_prekey.signature.0[5] ^= 1;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        let mut b = decoded.clone();
        b.kem_prekey.kind = crate::prekeys::KemPreKeyKind::LastResort;
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        // Another KEM key with a valid signature of its own (for another id) from the same
        // device: the signature does not cover this id.
        let other_store = PreKeyStore::new(&bob, 0, &mut rng);
        let other_kem = other_store.last_resort_kem_prekey().unwrap();
        let mut b = decoded.clone();
        b.kem_prekey.key = other_kem.key.clone();
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
        // The same keys under another signer.
        let mut b = decoded;
        b.identity = *alice.public();
        assert_eq!(
            initiate(&alice, &b, &mut rng).unwrap_err(),
            Error::BadSignature
        );
    }

    #[test]
    fn responder_refuses_unknown_prekeys_and_other_recipients() {
        let (alice, bob, store, bundle) = setup(true);
        let mut rng = ChaCha20Rng::from_seed([10; 32]);
        let (_, init) = initiate(&alice, &bundle, &mut rng).unwrap();
        let mut bad = init.clone();
        bad.signed_prekey_id = 999;
        assert_eq!(
            respond(&bob, &store, &bad).unwrap_err(),
            Error::UnknownPreKey
        );
        let mut bad = init.clone();
        bad.one_time_prekey_id = Some(999);
        assert_eq!(
            respond(&bob, &store, &bad).unwrap_err(),
            Error::UnknownPreKey
        );
        assert_eq!(
            respond(&alice, &store, &init).unwrap_err(),
            Error::WrongRecipient
        );
    }
}
