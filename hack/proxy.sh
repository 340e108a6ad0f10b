#!/usr/bin/env bash
# Builds the modelops-proxy sidecar (the Rust crate in operator/proxy) in
# release mode. The cargo target directory lives in the project cache, keyed
# by the compiler and Cargo.toml (exact pins; the lockfile cargo resolves is
# kept there and reused, since git does not carry it), so dependencies are
# compiled once and a rebuild after a source change takes seconds; older
# target directories are removed (each is hundreds of MB).
# Progress goes to stderr; prints the binary's path on its last stdout line.
# With --test, also runs the crate's own tests (parser, buckets, agreement,
# metrics, budget) in the same target directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/hack/lib/cache.sh"
crate=$root/operator/proxy
start=$(date +%s)
log() { printf '[proxy %ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { log "cargo not found: install a Rust toolchain (rustup)"; exit 1; }

key=$( { rustc --version; sha256sum <"$crate/Cargo.toml"; } | sha256sum | cut -c1-12)
target=$cache/proxy-target-$key
for old in "$cache"/proxy-target-*; do
  [ -d "$old" ] && [ "$old" != "$target" ] && { log "removing stale $old"; rm -rf "$old"; }
done
mkdir -p "$target"
# The first resolution is reused by every later build with this key.
[ -f "$crate/Cargo.lock" ] || [ ! -f "$target/Cargo.lock" ] || cp "$target/Cargo.lock" "$crate/Cargo.lock"

log "cargo build --release ($(rustc --version), target $target)"
# Cargo's own progress lines, each prefixed with the seconds elapsed.
(cd "$crate" && CARGO_TARGET_DIR=$target cargo build --release --color never 2>&1) |
  while IFS= read -r line; do log "$line"; done
if [ "${1:-}" = "--test" ]; then
  log "cargo test --release"
  (cd "$crate" && CARGO_TARGET_DIR=$target cargo test --release --color never 2>&1) |
    while IFS= read -r line; do log "$line"; done
fi
cp "$crate/Cargo.lock" "$target/Cargo.lock"
binary=$target/release/modelops-proxy
[ -x "$binary" ] || { log "no binary at $binary"; exit 1; }
log "ready: $binary ($(du -h "$binary" | cut -f1))"
echo "$binary"
