#!/usr/bin/env bash
# Builds Argo CD from its Go module into the project cache, keyed by version,
# for the GitOps tests (e2e/gitops.test.ts): the multi-call `argocd` binary
# (run as argocd-repo-server / argocd-application-controller through
# ARGOCD_BINARY_NAME, and as the CLI for `argocd admin`), a loopback Redis for
# its cache, and its Application and AppProject CRDs beside them. Idempotent: a cached build is
# reused. Progress goes to stderr; the last stdout line is the cache directory
# (argocd, redis, application-crd.yaml, appproject-crd.yaml).
# A wrapper module copies Argo CD's replace lines (hack/lib/go-wrapper-module.sh).
# Redis: miniredis (Argo CD's own test Redis, the version its go.mod pins)
# behind a 10-line main, so no system package or daemon is needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$here/lib/cache.sh"
source "$here/lib/go-wrapper-module.sh"

log() { printf '[argocd] %s\n' "$*" >&2; }

v=$ARGOCD_VERSION
module=github.com/argoproj/argo-cd/v3
out=$cache/argocd-$v

crds=(application-crd.yaml appproject-crd.yaml)
if [ -x "$out/argocd" ] && [ -x "$out/redis" ] && [ -f "$out/${crds[0]}" ] && [ -f "$out/${crds[1]}" ]; then
  log "$v: cached"
else
  log "$v: downloading the module"
  go_module_download "$module" "$v"
  mkdir -p "$out"
  for f in "${crds[@]}"; do
    # The module cache is read-only; the copies need not be.
    cp "$module_src/manifests/crds/$f" "$out/$f.tmp" && chmod u+w "$out/$f.tmp" && mv -f "$out/$f.tmp" "$out/$f"
  done

  mod=$cache/src/argocd-$v
  go_wrapper_module "$mod" modelops.local/argocd-build 1.25.5 "$module" "$v" "$module_gomod"
  mkdir -p "$mod/redis"
  # miniredis keeps TTLs on a clock of its own; a ticker moves it with real
  # time so Argo CD's cache entries (git refs among them) expire as in Redis.
  cat >"$mod/redis/main.go" <<'EOF'
// A Redis on loopback for Argo CD's cache: miniredis, the server Argo CD's
// own tests use. Usage: redis ADDRESS (e.g. 127.0.0.1:6379).
package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func main() {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(os.Args[1]); err != nil {
		panic(err)
	}
	// Expire keys in real time: miniredis only ages TTLs when told to.
	go func() {
		last := time.Now()
		for now := range time.Tick(100 * time.Millisecond) {
			m.FastForward(now.Sub(last))
			last = now
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	m.Close()
}
EOF
  build() { (cd "$mod" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath "$@" >&2); }
  if [ ! -x "$out/redis" ]; then
    log "$v: building the loopback redis"
    build -ldflags "-s -w" -o "$out/redis.tmp" ./redis
    mv "$out/redis.tmp" "$out/redis"
  fi
  if [ ! -x "$out/argocd" ]; then
    log "$v: building argocd (repo server, application controller, CLI; many minutes on a cold cache)"
    build -ldflags "-s -w -X $module/common.version=${v#v}" -o "$out/argocd.tmp" "$module/cmd"
    mv "$out/argocd.tmp" "$out/argocd"
  fi
  log "$v: built $out"
fi
echo "$out"
