#!/usr/bin/env bash
# Builds Argo Rollouts' controller from its Go module into the project cache,
# keyed by version, and extracts its CRDs beside it; bench/scale.ts runs it as
# the baseline the operator is measured against. Idempotent: a cached build is
# reused. Progress goes to stderr; the last stdout line is
# "<controller binary> <CRD directory>".
# argo-rollouts' go.mod requires k8s.io/kubernetes, whose own go.mod points its
# staging modules (k8s.io/api v0.0.0 ...) at local paths; the wrapper module
# copies argo-rollouts' replace lines so they resolve to released versions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"

log() { printf '[argo-rollouts] %s\n' "$*" >&2; }

v=$ARGO_ROLLOUTS_VERSION
module=github.com/argoproj/argo-rollouts
out=$cache/argo-rollouts-$v
bin=$out/rollouts-controller
crds=$out/crds

# The module's go.mod and source tree (the zip unpacked by the go command).
module_dir() {
  GOFLAGS=-mod=mod go mod download -json "$module@$v" |
    sed -n 's/^[[:space:]]*"\(Dir\|GoMod\)": "\(.*\)",\{0,1\}$/\1 \2/p'
}

if [ -x "$bin" ] && [ -f "$crds/rollout-crd.yaml" ]; then
  log "$v: cached"
else
  log "$v: downloading the module"
  info=$(cd /tmp && module_dir)
  dir=$(awk '$1 == "Dir" { print $2 }' <<<"$info")
  gomod=$(awk '$1 == "GoMod" { print $2 }' <<<"$info")
  mkdir -p "$out" "$crds.tmp"
  for f in "$dir"/manifests/crds/*-crd.yaml; do cp "$f" "$crds.tmp/"; done
  rm -rf "$crds" && mv "$crds.tmp" "$crds"

  mod=$cache/src/argo-rollouts-$v
  mkdir -p "$mod"
  if [ ! -f "$mod/go.mod" ]; then
    {
      printf 'module modelops.local/argo-rollouts-build\ngo 1.24.0\nrequire %s %s\n' "$module" "$v"
      # Both the block form `replace ( ... )` and single `replace a => b` lines.
      awk '/^replace \(/ { inblock = 1; print; next }
           inblock { print; if ($0 ~ /^\)/) inblock = 0; next }
           /^replace / { print }' "$gomod"
    } >"$mod/go.mod.tmp"
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
    mv "$mod/go.mod.tmp" "$mod/go.mod"
  fi
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
