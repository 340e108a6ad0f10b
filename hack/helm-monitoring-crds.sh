#!/usr/bin/env bash
# Prints the paths of the Prometheus Operator's ServiceMonitor, PodMonitor and
# PrometheusRule CRDs, fetched (checksum-verified) from its Go module at the
# pinned version into the Go module cache, so chart tests can dry-run the
# chart's ServiceMonitor, PodMonitor and PrometheusRule against a real apiserver.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
json=$(cd / && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
for kind in servicemonitors podmonitors prometheusrules; do
  f=$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml
  [ -f "$f" ] || { echo "helm-monitoring-crds: $f not found; did the module layout change?" >&2; exit 1; }
  echo "$f"
done
