#!/usr/bin/env bash
# Builds and runs Parley's demo. Only the crypto core exists so far, so this runs its demo; it
# becomes a relay plus two clients exchanging messages once those crates land.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=.ci/setup
. .ci/setup
cargo run -p parley-crypto --example demo --release --locked
