#!/usr/bin/env bash
# Builds helm from the Go module proxy into the binary cache, keyed by version.
# Idempotent. Prints the helm binary's path on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$(dirname "$0")/lib/cache.sh"
out=$cache/helm-$HELM_VERSION
log() { printf '[helm] %s\n' "$*" >&2; }
if [ ! -x "$out/helm" ]; then
  mkdir -p "$out"
  log "helm $HELM_VERSION: building (about a minute on a cold cache)"
  start=$(date +%s)
  # go install of a versioned path honours the module's own go.mod, so
  # helm's replace-free dependency graph resolves as released.
  CGO_ENABLED=0 GOBIN="$out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  log "helm $HELM_VERSION: built in $(( $(date +%s) - start ))s"
fi
echo "$out/helm"
