#!/usr/bin/env bash
# Builds the benchmark's open-loop load generator (bench/loadgen) into the
# project cache, keyed by the rustc version and Cargo.toml (its resolved
# lockfile is kept there, as hack/proxy.sh does), so a fresh clone
# or another worktree reuses it; cargo rebuilds there when the source changes.
# Progress goes to stderr; the binary's path is the last line of stdout.
# Cold build: about 1 minute (2 cores); cached: well under a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../hack/lib/cache.sh"

# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
key=$( { rustc --version; sha256sum <"$here/Cargo.toml"; } | sha256sum | cut -c1-12)
export CARGO_TARGET_DIR=$cache/loadgen-target-$key
for old in "$cache"/loadgen-target-*; do
  [ -d "$old" ] && [ "$old" != "$CARGO_TARGET_DIR" ] && { printf '[loadgen] removing stale %s\n' "$old" >&2; rm -rf "$old"; }
done
mkdir -p "$CARGO_TARGET_DIR"
[ -f "$here/Cargo.lock" ] || [ ! -f "$CARGO_TARGET_DIR/Cargo.lock" ] || cp "$CARGO_TARGET_DIR/Cargo.lock" "$here/Cargo.lock"
printf '[loadgen] building in %s\n' "$CARGO_TARGET_DIR" >&2
cargo build --release --quiet --manifest-path "$here/Cargo.toml" >&2
cp "$here/Cargo.lock" "$CARGO_TARGET_DIR/Cargo.lock"
echo "$CARGO_TARGET_DIR/release/modelops-loadgen"
