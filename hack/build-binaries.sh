#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy into a cache
# outside the repo, keyed by version. Idempotent: cached binaries are reused.
# Prints the bin directory on its last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
source "$(dirname "$0")/lib/cache.sh"
k8s_minor=${KUBERNETES_VERSION#v1.}   # 34.4
staging_version=v0.$k8s_minor         # v0.34.4

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# The Kubernetes staging modules that k8s.io/kubernetes replaces with local
# paths in its own go.mod; a wrapper module must pin them to released versions.
staging_modules=(api apiextensions-apiserver apimachinery apiserver cli-runtime
  client-go cloud-provider cluster-bootstrap code-generator component-base
  component-helpers controller-manager cri-api cri-client csi-translation-lib
  dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
  kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver)

build_kubernetes() {
  local out=$cache/kubernetes-$KUBERNETES_VERSION
  # kubelet and kube-proxy run the real node (hack/localcluster/real-node.ts).
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kube-proxy kubelet)
  local missing=()
  for c in "${cmds[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && { log "kubernetes $KUBERNETES_VERSION: cached"; return; }
  local mod=$cache/src/kubernetes-$KUBERNETES_VERSION
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    log "kubernetes $KUBERNETES_VERSION: writing wrapper module"
    {
      echo "module modelops.local/k8s-build"
      echo "go 1.24.0"
      echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
      for m in "${staging_modules[@]}"; do
        echo "replace k8s.io/$m => k8s.io/$m $staging_version"
      done
    } >"$mod/go.mod.tmp"
    mv "$mod/go.mod.tmp" "$mod/go.mod"
    (cd "$mod" && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes)
    # Kubernetes relies on its own godebug settings; copy them.
    local kmod
    kmod=$(cd "$mod" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' k8s.io/kubernetes)
    grep -E '^godebug' "$kmod/go.mod" >>"$mod/go.mod" || true
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
  fi
  local ldflags="-s -w"
  local v=${KUBERNETES_VERSION#v} major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  for k in gitVersion=$KUBERNETES_VERSION gitMajor=$major gitMinor=$minor gitTreeState=clean \
           buildDate=1970-01-01T00:00:00Z; do
    ldflags+=" -X k8s.io/component-base/version.$k -X k8s.io/client-go/pkg/version.$k"
  done
  for c in "${missing[@]}"; do
    log "kubernetes $KUBERNETES_VERSION: building $c (several minutes on a cold cache)"
    # kubelet needs cgo (as in Kubernetes' own release builds); the rest are static.
    local cgo=0
    [ "$c" = kubelet ] && cgo=1
    (cd "$mod" && CGO_ENABLED=$cgo GOFLAGS=-mod=mod go build -tags selinux,notest -trimpath \
       -ldflags "$ldflags" -o "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$out/$c.tmp" "$out/$c"
  done
}

# A Go main package whose module needs no replace lines, built through a
# wrapper module that pins it:  build_main NAME VERSION MODULE PACKAGE
build_main() {
  local name=$1 version=$2 module=$3 package=$4
  local out=$cache/$name-$version
  [ -x "$out/$name" ] && { log "$name $version: cached"; return; }
  local mod=$cache/src/$name-$version
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    printf 'module modelops.local/%s-build\ngo 1.24.0\nrequire %s %s\n' "$name" "$module" "$version" >"$mod/go.mod"
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
  fi
  log "$name $version: building"
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" \
     -o "$out/$name.tmp" "$package")
  mv "$out/$name.tmp" "$out/$name"
}

build_kwok() {
  local out=$cache/kwok-$KWOK_VERSION
  [ -x "$out/kwok" ] && { log "kwok $KWOK_VERSION: cached"; return; }
  mkdir -p "$out"
  log "kwok $KWOK_VERSION: building"
  CGO_ENABLED=0 GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

# Prometheus 3.x publishes its Go module as v0.3MM.P for release 3.MM.P.
# Tag remove_all_sd leaves out the cloud service discoveries (it halves the
# build, and one of those SDKs (nomad) pins a pseudo-version the module proxy
# does not serve); enable_kubernetes_sd keeps the one the real node's pods are
# discovered with. No web UI assets either
# (builtinassets is off); the API is all tests need.
build_prometheus() {
  local out=$cache/prometheus-$PROMETHEUS_VERSION-k8s-sd
  [ -x "$out/prometheus" ] && { log "prometheus $PROMETHEUS_VERSION: cached"; return; }
  local mod=$cache/src/prometheus-$PROMETHEUS_VERSION
  local v=${PROMETHEUS_VERSION#v} major minor patch
  IFS=. read -r major minor patch <<<"$v"
  local modver=v0.$((major * 100 + minor)).$patch   # 3.16.0 -> v0.316.0
  mkdir -p "$mod" "$out"
  if [ ! -f "$mod/go.mod" ]; then
    printf 'module modelops.local/prometheus-build\ngo 1.24.0\nrequire github.com/prometheus/prometheus %s\n' "$modver" >"$mod/go.mod"
    printf 'package main\nfunc main() {}\n' >"$mod/main.go"
  fi
  log "prometheus $PROMETHEUS_VERSION ($modver): building"
  local x=github.com/prometheus/common/version
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags remove_all_sd,enable_kubernetes_sd -trimpath \
     -ldflags "-s -w -X $x.Version=$v -X $x.Branch=HEAD -X $x.Revision=$modver" \
     -o "$out/prometheus.tmp" github.com/prometheus/prometheus/cmd/prometheus)
  mv "$out/prometheus.tmp" "$out/prometheus"
}


build_main etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
build_kwok
# CoreDNS gives the real node's pods cluster DNS (<svc>.<ns>.svc), as in any cluster.
build_main coredns "$COREDNS_VERSION" github.com/coredns/coredns github.com/coredns/coredns
build_prometheus
build_kubernetes

# One directory with links to every binary, so callers need one path.
# The name stays keyed by the cluster's versions (hack/cluster.ts computes it);
# links are rewritten on every run, so a new Prometheus version is picked up.
bin=$cache/bin-$KUBERNETES_VERSION-$ETCD_VERSION-$KWOK_VERSION
mkdir -p "$bin"
for f in "$cache/kubernetes-$KUBERNETES_VERSION"/* "$cache/etcd-$ETCD_VERSION/etcd" "$cache/kwok-$KWOK_VERSION/kwok" \
         "$cache/prometheus-$PROMETHEUS_VERSION-k8s-sd/prometheus" "$cache/coredns-$COREDNS_VERSION/coredns"; do
  ln -sf "$f" "$bin/$(basename "$f")"
done
log "binaries ready in $bin"
echo "$bin"
