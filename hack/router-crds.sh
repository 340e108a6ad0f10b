#!/usr/bin/env bash
# Puts the real Gateway API (standard channel) and Istio networking CRDs on
# this machine without committing them: both projects publish their CRDs
# inside Go modules, so `go mod download` fetches them, verified against the
# checksum database, into the Go module cache (read-only, shared, reused).
# Versions are pinned in versions.env. Prints, one KEY=path per line:
#   GATEWAY_API_CRD_DIR  config/crd/standard of sigs.k8s.io/gateway-api
#   HTTPROUTE_CRD        the HTTPRoute CRD in that directory
#   ISTIO_CRDS           kubernetes/customresourcedefinitions.gen.yaml of istio.io/api (all Istio CRDs)
# Install with: kubectl apply --server-side -f "$HTTPROUTE_CRD" -f "$ISTIO_CRDS"
# (server-side: the Istio file's CRDs exceed the client-side annotation limit).
# The standard directory also holds a ValidatingAdmissionPolicy
# (safe-upgrades), not a CRD; apply the directory only if you want it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# A version set in the environment wins over the pin, so tests can fetch an older release too.
env_gateway=${GATEWAY_API_VERSION:-}
env_istio=${ISTIO_API_VERSION:-}
# shellcheck source=versions.env
source "$here/versions.env"
GATEWAY_API_VERSION=${env_gateway:-$GATEWAY_API_VERSION}
ISTIO_API_VERSION=${env_istio:-$ISTIO_API_VERSION}

command -v go >/dev/null || { echo "router-crds: go is not on PATH; it is needed to fetch the CRD modules" >&2; exit 1; }

module_dir() {
  local json
  # Outside any go.mod, so a module in the caller's directory cannot interfere.
  if ! json=$(cd / && go mod download -json "$1"); then
    echo "router-crds: go mod download $1 failed: $json" >&2
    exit 1
  fi
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

must_exist() {
  [ -e "$1" ] || { echo "router-crds: $1 not found; did the module layout change?" >&2; exit 1; }
  printf '%s\n' "$1"
}

gateway=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
istio=$(module_dir "istio.io/api@$ISTIO_API_VERSION")
# Assignments, not echo "$(...)", so set -e stops on a missing file.
crd_dir=$(must_exist "$gateway/config/crd/standard")
httproute=$(must_exist "$crd_dir/gateway.networking.k8s.io_httproutes.yaml")
istio_crds=$(must_exist "$istio/kubernetes/customresourcedefinitions.gen.yaml")
printf 'GATEWAY_API_CRD_DIR=%s\nHTTPROUTE_CRD=%s\nISTIO_CRDS=%s\n' "$crd_dir" "$httproute" "$istio_crds"
