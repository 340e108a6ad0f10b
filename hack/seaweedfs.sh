#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (an S3-compatible server for the artifact
# fetcher's integration tests, hack/localcluster/s3-server.ts) from its Go
# module into the project cache, keyed by version. Idempotent: a cached
# binary is reused. Progress goes to stderr; the binary's path is the last
# line of stdout.
# Cold build (module download + compile, Go 1.26.8, nothing of SeaweedFS cached):
# 7m34s measured on the dev machine (6m user CPU); a cached run takes a few ms.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"

log() { printf '[seaweedfs] %s\n' "$*" >&2; }

out=$cache/seaweedfs-$SEAWEEDFS_VERSION
if [ -x "$out/weed" ]; then
  log "$SEAWEEDFS_VERSION: cached"
else
  mod=$cache/src/seaweedfs-$SEAWEEDFS_VERSION
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    # A wrapper module pins the version; the go directive is raised by
    # `go get` to whatever SeaweedFS itself needs.
    printf 'module modelops.local/seaweedfs-build\ngo 1.24.0\n' >"$mod/go.mod.tmp"
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
    mv "$mod/go.mod.tmp" "$mod/go.mod"
    log "$SEAWEEDFS_VERSION: resolving the module"
    (cd "$mod" && GOFLAGS=-mod=mod go get "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" >&2)
  fi
  log "$SEAWEEDFS_VERSION: building weed (minutes on a cold cache)"
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" \
     -o "$out/weed.tmp" github.com/seaweedfs/seaweedfs/weed >&2)
  mv "$out/weed.tmp" "$out/weed"
  log "$SEAWEEDFS_VERSION: built $out/weed"
fi
echo "$out/weed"
