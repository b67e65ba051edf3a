//! A tiny tour of the crypto core as it stands: two devices make identity keys, one signs its
//! X25519 identity key with its Ed25519 key, both agree on a secret with X25519, and a message
//! is sealed and opened with AES-256-GCM under a key derived by HKDF.
//! `cargo run -p parley-crypto --example session_demo` (the relay-and-clients demo that
//! `./run.sh` runs is `client/examples/demo.rs`).
#![allow(clippy::print_stdout)]

use parley_crypto::kdf::AeadKey;
use parley_crypto::keys::{KeyPair, SigningKeyPair, ct_eq, os_rng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = os_rng();

    // Each device has an Ed25519 signing key and an X25519 identity key signed by it.
    let alice_signing = SigningKeyPair::generate(&mut rng);
    let alice = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    let certificate = alice_signing.sign(alice.public().as_bytes());
    alice_signing
        .public()
        .verify(alice.public().as_bytes(), &certificate)?;
    println!("alice: signing key {:?}", alice_signing.public());
    println!(
        "alice: identity key {:?}, signature verified",
        alice.public()
    );
    println!("bob:   identity key {:?}", bob.public());

    // X25519 from both sides (non-contributory results are rejected inside `dh`).
    let alice_shared = alice.dh(bob.public())?;
    let bob_shared = bob.dh(alice.public())?;
    if !ct_eq(&alice_shared[..], &bob_shared[..]) {
        return Err("the two sides derived different secrets".into());
    }
    println!("x25519: both sides agree on a 32-byte secret");

    // AES-256-GCM with key and nonce derived by HKDF-SHA256 from the shared secret.
    let info = b"Parley demo";
    let aad = b"alice -> bob";
    let sealed = AeadKey::derive(&alice_shared[..], info).seal(aad, b"hello from the crypto core");
    let opened = AeadKey::derive(&bob_shared[..], info).open(aad, &sealed)?;
    println!(
        "aes-256-gcm: {} bytes sealed, opened as {:?}",
        sealed.len(),
        String::from_utf8_lossy(&opened)
    );
    let mut tampered = sealed;
    if let Some(byte) = tampered.first_mut() {
        *byte ^= 1;
    }
    if AeadKey::derive(&bob_shared[..], info)
        .open(aad, &tampered)
        .is_ok()
    {
        return Err("a tampered ciphertext was accepted".into());
    }
    println!("aes-256-gcm: a tampered ciphertext is rejected");

    println!("parley-crypto core is built and working.");
    Ok(())
}
