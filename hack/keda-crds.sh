#!/usr/bin/env bash
# Prints the path of KEDA's ScaledObject CRD, fetched with `go mod download`
# from KEDA's Go module (pinned in versions.env) into the Go module cache, so
# the autoscaling tests can install the real CRD without committing it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
command -v go >/dev/null || { echo "keda-crds: go is not on PATH" >&2; exit 1; }
json=$(cd / && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION")
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
crd="$dir/config/crd/bases/keda.sh_scaledobjects.yaml"
[ -f "$crd" ] || { echo "keda-crds: $crd not found; did the module layout change?" >&2; exit 1; }
echo "$crd"
