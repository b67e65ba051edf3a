//! `app/src/bindings.ts` is what `dto::bindings()` generates: the UI's types cannot drift
//! from the Rust ones. `PARLEY_BLESS=1 cargo test -p parley-app --test bindings` rewrites it.
#![allow(clippy::unwrap_used, clippy::panic)]

#[test]
fn typescript_bindings_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/bindings.ts");
    let generated = parley_app::dto::bindings();
    if std::env::var_os("PARLEY_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        panic!(
            "app/src/bindings.ts is stale: run `PARLEY_BLESS=1 cargo test -p parley-app --test bindings` and commit it"
        );
    }
}
