#!/usr/bin/env bash
# Builds prometheus-adapter (the custom.metrics.k8s.io server the real-node
# autoscaling story registers with the apiserver, hack/localcluster/
# prometheus-adapter.ts) from its Go module into the project cache, keyed by
# version. Idempotent: a cached binary is reused. Progress goes to stderr; the
# binary's path is the last line of stdout.
# The module proxy lists no versions of it, but serves the pinned one by name.
# Cold build (module download + compile, Go 1.26.8, its k8s.io v0.30 libraries
# not cached): 4m11s measured on the dev machine beside a running test; cached: a few ms.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"

log() { printf '[prometheus-adapter] %s\n' "$*" >&2; }

out=$cache/prometheus-adapter-$PROMETHEUS_ADAPTER_VERSION
if [ -x "$out/adapter" ]; then
  log "$PROMETHEUS_ADAPTER_VERSION: cached"
else
  mod=$cache/src/prometheus-adapter-$PROMETHEUS_ADAPTER_VERSION
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    # A wrapper module pins the version; `go get` raises the go directive
    # and the dependencies to what the adapter itself requires.
    printf 'module modelops.local/prometheus-adapter-build\ngo 1.24.0\n' >"$mod/go.mod.tmp"
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
    mv "$mod/go.mod.tmp" "$mod/go.mod"
    log "$PROMETHEUS_ADAPTER_VERSION: resolving the module"
    (cd "$mod" && GOFLAGS=-mod=mod go get "sigs.k8s.io/prometheus-adapter@$PROMETHEUS_ADAPTER_VERSION" >&2)
  fi
  log "$PROMETHEUS_ADAPTER_VERSION: building the adapter"
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" \
     -o "$out/adapter.tmp" sigs.k8s.io/prometheus-adapter/cmd/adapter >&2)
  mv "$out/adapter.tmp" "$out/adapter"
  log "$PROMETHEUS_ADAPTER_VERSION: built $out/adapter"
fi
echo "$out/adapter"
