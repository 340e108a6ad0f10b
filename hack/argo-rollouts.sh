#!/usr/bin/env bash
# Builds Argo Rollouts' controller from its Go module into the project cache,
# keyed by version, and extracts its CRDs beside it; bench/scale.ts runs it as
# the baseline the operator is measured against. Idempotent: a cached build is
# reused. Progress goes to stderr; the last stdout line is
# "<controller binary> <CRD directory>".
# A wrapper module copies argo-rollouts' replace lines (hack/lib/go-wrapper-module.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"
source "$here/lib/go-wrapper-module.sh"

log() { printf '[argo-rollouts] %s\n' "$*" >&2; }

v=$ARGO_ROLLOUTS_VERSION
module=github.com/argoproj/argo-rollouts
out=$cache/argo-rollouts-$v
bin=$out/rollouts-controller
crds=$out/crds

if [ -x "$bin" ] && [ -f "$crds/rollout-crd.yaml" ]; then
  log "$v: cached"
else
  log "$v: downloading the module"
  go_module_download "$module" "$v"
  mkdir -p "$out" "$crds.tmp"
  for f in "$module_src"/manifests/crds/*-crd.yaml; do cp "$f" "$crds.tmp/"; done
  rm -rf "$crds" && mv "$crds.tmp" "$crds"

  mod=$cache/src/argo-rollouts-$v
  go_wrapper_module "$mod" modelops.local/argo-rollouts-build 1.24.0 "$module" "$v" "$module_gomod"
  printf 'package main\nfunc main() {}\n' >"$mod/main.go"
  if [ ! -x "$bin" ]; then
    log "$v: building the controller (about 7 minutes on a cold cache)"
    (cd "$mod" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath \
       -ldflags "-s -w -X $module/utils/version.version=${v#v}" \
       -o "$bin.tmp" "$module/cmd/rollouts-controller" >&2)
    mv "$bin.tmp" "$bin"
  fi
  log "$v: built $bin"
fi
echo "$bin $crds"
