#!/usr/bin/env bash
# Builds krew (the kubectl plugin manager) from the Go module proxy into the
# binary cache, keyed by version, so the plugin tests install kubectl-modelops
# from its krew manifest as a user would. Idempotent. Prints the krew
# binary's path on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"
out=$cache/krew-$KREW_VERSION
log() { printf '[krew] %s\n' "$*" >&2; }
if [ ! -x "$out/krew" ]; then
  mkdir -p "$out"
  log "krew $KREW_VERSION: building (about half a minute on a cold cache)"
  start=$(date +%s)
  CGO_ENABLED=0 GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION"
  log "krew $KREW_VERSION: built in $(( $(date +%s) - start ))s"
fi
echo "$out/krew"
