#!/usr/bin/env bash
# Runs the product: with no --kubeconfig, builds and starts a local control
# plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes);
# installs the CRDs; starts a Prometheus fed with simulated model traffic
# (KWOK pods run no container); applies the samples; runs the operator in the
# foreground; and, once the sample is Available, rolls it to version 2 with
# the sample's canary. --bad-version iris-classifier-v2 makes v2 fail its
# analysis, to watch an automatic rollback.
# Ctrl-C stops everything it started (--keep-cluster keeps the cluster).
#   bash hack/up.sh [--kubeconfig PATH] [--prometheus-address URL] [--keep-cluster] [--no-rollout] [--bad-version NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source hack/lib/node.sh

kubeconfig=""; keep_cluster=false; rollout=true; prometheus=""; bad_version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --kubeconfig=*) kubeconfig=${1#*=}; shift ;;
    --keep-cluster) keep_cluster=true; shift ;;
    --no-rollout) rollout=false; shift ;;
    --prometheus-address) prometheus=$2; shift 2 ;;
    --bad-version) bad_version=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n[up] %s\n' "$*"; }
bin=$(bash hack/build-binaries.sh | tail -n 1)
export PATH="$bin:$PATH"
cluster_dir="$root/.cluster"
started_cluster=false
if [ -z "$kubeconfig" ]; then
  say "starting a local cluster in $cluster_dir"
  MODELOPS_BIN_DIR=$bin node hack/cluster.ts start --dir "$cluster_dir"
  kubeconfig="$cluster_dir/kubeconfig"
  started_cluster=true
fi
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

operator_pid=""; traffic_pid=""
cleanup() {
  set +e
  for pid in $operator_pid $traffic_pid; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  if $started_cluster && ! $keep_cluster; then
    say "stopping the local cluster (use --keep-cluster to keep it)"
    node hack/cluster.ts stop --dir "$cluster_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "installing CRDs"
k apply --server-side --force-conflicts -f crds/ >/dev/null
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
$started_cluster && k apply -f hack/local/model-store.yaml >/dev/null
say "applying the samples (config/samples)"
k apply -f config/samples/modelversion.yaml -f config/samples/modelversion-v2.yaml \
  -f config/samples/modeldeployment.yaml -f config/samples/driftmonitor.yaml

if [ -z "$prometheus" ] && $started_cluster; then
  say "starting Prometheus with simulated model traffic"
  fifo="$cluster_dir/demo-traffic.out"; : >"$fifo"
  MODELOPS_BIN_DIR=$bin node hack/demo-traffic.ts --kubeconfig "$kubeconfig" --dir "$cluster_dir/prometheus" \
    ${bad_version:+--bad-version "$bad_version"} >"$fifo" 2>&1 &
  traffic_pid=$!
  for _ in $(seq 1 60); do grep -q '^PROMETHEUS_URL=' "$fifo" && break; sleep 0.5; done
  prometheus=$(sed -n 's/^PROMETHEUS_URL=//p' "$fifo")
  [ -n "$prometheus" ] || { cat "$fifo" >&2; echo "[up] Prometheus did not start" >&2; exit 1; }
fi

say "starting the operator (logs below; Ctrl-C stops it)"
node operator/main.ts --kubeconfig "$kubeconfig" --metrics-bind-address 127.0.0.1:8080 \
  ${prometheus:+--prometheus-address "$prometheus"} &
operator_pid=$!

cat <<MSG

[up] watch it from another terminal:
  export KUBECONFIG=$kubeconfig PATH=$bin:\$PATH
  kubectl get mdep -w                      # phase, stable version, ready replicas
  kubectl get modelops                     # every ModelVersion, ModelDeployment, DriftMonitor
  kubectl describe mdep iris-classifier    # conditions and events
  curl -s 127.0.0.1:8080/metrics | grep -E '^modelops_rollout'
  kubectl annotate mdep iris-classifier modelops.io/action=promote@\$(date +%s) --overwrite   # skip a step
  Prometheus: ${prometheus:-none}
MSG

if $rollout; then
  if k wait mdep/iris-classifier --for=jsonpath='{.status.phase}'=Available --timeout=120s >/dev/null; then
    say "iris-classifier is Available on v1; rolling it to iris-classifier-v2 (canary: 20%, pause, 50%, analysis, pause; ~4 min)"
    k patch mdep iris-classifier --type=merge -p '{"spec":{"modelVersion":"iris-classifier-v2"}}' >/dev/null
  else
    say "iris-classifier did not become Available within 120 s; see: kubectl describe mdep iris-classifier"
  fi
fi
wait "$operator_pid"
