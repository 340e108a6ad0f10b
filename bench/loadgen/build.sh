#!/usr/bin/env bash
# Builds the benchmark's open-loop load generator (bench/loadgen) into the
# project cache, keyed by the rustc version and Cargo.lock, so a fresh clone
# or another worktree reuses it; cargo rebuilds there when the source changes.
# Progress goes to stderr; the binary's path is the last line of stdout.
# Cold build: about 1 minute (2 cores); cached: well under a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../hack/lib/cache.sh"

rustc_version=$(rustc --version | awk '{print $2}')
lock_hash=$(sha256sum "$here/Cargo.lock" | cut -c1-12)
export CARGO_TARGET_DIR=$cache/loadgen-target-$rustc_version-$lock_hash
printf '[loadgen] building in %s\n' "$CARGO_TARGET_DIR" >&2
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml" >&2
echo "$CARGO_TARGET_DIR/release/modelops-loadgen"
