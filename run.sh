#!/usr/bin/env bash
# Builds Parley, starts a relay (parley-server) on its embedded defaults — SQLite and an
# attachment folder in a fresh data directory, 127.0.0.1 — and runs the demo client against
# it: an org is created, Alice invites Bob, both publish prekeys and exchange end-to-end
# encrypted messages through the relay. The relay stops when the demo ends.
#
#   ./run.sh                 # data directory under /tmp, removed afterwards
#   PARLEY_DATA_DIR=dir ./run.sh   # keep the relay's data in dir (must be new)
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=.ci/setup
. .ci/setup

# PARLEY_PROFILE=dev or test builds faster (CI's smoke run uses test, the profile its test build
# already compiled).
profile="${PARLEY_PROFILE:-release}"
cargo build --profile "$profile" --locked -p parley-server -p parley-client --bin parley-server --example demo
case "$profile" in
  dev | test) bin="${CARGO_TARGET_DIR:-target}/debug" ;;
  *) bin="${CARGO_TARGET_DIR:-target}/$profile" ;;
esac
data="${PARLEY_DATA_DIR:-}"
cleanup_data=""
if [ -z "$data" ]; then
  data="$(mktemp -d /tmp/parley-demo.XXXXXX)"
  cleanup_data="$data"
fi
log="$(mktemp)"
token="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

PARLEY_SETUP_TOKEN="$token" "$bin/parley-server" --data-dir "$data" --listen 127.0.0.1:0 \
  >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"; [ -n "$cleanup_data" ] && rm -rf "$cleanup_data"' EXIT

url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^parley-server listening on //p' "$log")"
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$log" >&2
    echo "parley-server failed to start" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "parley-server did not start in time" >&2; exit 1; }
echo "parley-server is running at $url (data in $data)"

"$bin/examples/demo" "$url" "$token"
