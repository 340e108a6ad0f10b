#!/usr/bin/env bash
# Runs the product: with no --kubeconfig, builds and starts a local control
# plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes) plus
# a real kubelet node, installs the CRDs, applies the samples, runs the
# operator in the foreground and, once the sample is Available, rolls it to
# version 2 with the sample's canary. REAL mode (the node runs): the samples'
# models are trained and served by MLServer on the node, and a Prometheus
# scrapes the pods' proxies while a load generator calls the Service. SIMULATED
# mode (--simulated, or when the node cannot run here): KWOK pods run no
# container, and a Prometheus is fed simulated series. --bad-version
# iris-classifier-v2 makes v2 fail its analysis (REAL: the erring model), to
# watch an automatic rollback. Ctrl-C stops everything it started.
#   bash hack/up.sh [--kubeconfig PATH] [--prometheus-address URL] [--keep-cluster] [--no-rollout]
#                   [--bad-version NAME] [--simulated] [--dir DIR (default .cluster)]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source hack/lib/node.sh

kubeconfig=""; keep_cluster=false; rollout=true; prometheus=""; bad_version=""; simulated=false
cluster_dir="$root/.cluster"
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --kubeconfig=*) kubeconfig=${1#*=}; shift ;;
    --keep-cluster) keep_cluster=true; shift ;;
    --no-rollout) rollout=false; shift ;;
    --prometheus-address) prometheus=$2; shift 2 ;;
    --bad-version) bad_version=$2; shift 2 ;;
    --simulated) simulated=true; shift ;;
    --dir) cluster_dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n[up] %s\n' "$*"; }
bin=$(bash hack/build-binaries.sh | tail -n 1)
export PATH="$bin:$PATH"
started_cluster=false; mode=""
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
if [ -z "$kubeconfig" ]; then
  if $simulated; then
    say "starting a local cluster in $cluster_dir (--simulated: KWOK nodes only)"
    MODELOPS_BIN_DIR=$bin node hack/cluster.ts start --dir "$cluster_dir"
  else
    say "starting a local cluster in $cluster_dir with a real node (first run: builds the node's images)"
    err=$(mktemp)
    if ! MODELOPS_BIN_DIR=$bin node hack/cluster.ts start --dir "$cluster_dir" --real-node 2>"$err"; then
      cat "$err" >&2
      # The control plane outlives a failed node start; without it, give up.
      node hack/cluster.ts status --dir "$cluster_dir" >/dev/null 2>&1 || { rm -f "$err"; exit 1; }
      say "the real node did not start: $(grep -m1 . "$err" || echo 'unknown error')"
      say "continuing in SIMULATED mode (KWOK pods run no container; Prometheus gets simulated series)"
    else
      cat "$err" >&2
    fi
    rm -f "$err"
  fi
  kubeconfig="$cluster_dir/kubeconfig"
  started_cluster=true
  ready=$(k get node modelops-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  if [ "$ready" = True ]; then mode=REAL; else mode=SIMULATED; fi
  say "mode: $mode"
fi

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
versions=(config/samples/modelversion.yaml config/samples/modelversion-v2.yaml)
if [ "$mode" = REAL ]; then
  # The samples' artifacts (pvc://models/<path>) from a host folder the node
  # mounts: v1 is logreg, v2 logreg-c (the erring model for --bad-version).
  models="$cluster_dir/models"
  say "training the samples' models into $models"
  python=$(bash hack/model-server/venv.sh | tail -n 1)/bin/python
  rm -rf "$models" "$cluster_dir/trained"
  "$python" hack/model-server/train.py "$cluster_dir/trained" >/dev/null
  kinds=(logreg logreg-c)
  for i in 0 1; do
    f=${versions[$i]}
    name=$(awk '/^  name: /{print $2; exit}' "$f")
    sub=$(sed -n 's|^ *uri: pvc://models/||p' "$f")
    kind=${kinds[$i]}; [ "$name" = "$bad_version" ] && kind=erring
    mkdir -p "$models/$sub"
    cp "$cluster_dir/trained/$kind/iris/model.joblib" "$models/$sub/"
    echo "  $name: pvc://models/$sub <- $kind"
  done
  sed "s|path: /var/lib/modelops/models|path: $models|" hack/local/model-store.yaml | k apply -f - >/dev/null
  mlserver_image=$(sed -n 's/^MLSERVER_IMAGE=//p' "$(bash hack/node/images.sh 2>/dev/null | tail -n 1)/images.env")
  say "applying the samples (config/samples; ModelVersions with runtime.image $mlserver_image)"
  # ModelVersions are immutable: apply copies with the node's MLServer image.
  for f in "${versions[@]}"; do
    sed "s|^    image: .*|    image: $mlserver_image|" "$f" | k apply -f -
  done
  k apply -f config/samples/modeldeployment.yaml -f config/samples/driftmonitor.yaml
  k patch mdep iris-classifier --type merge -p '{"spec":{"template":{"nodeSelector":{"modelops.dev/node":"real"},"tolerations":[{"key":"modelops.dev/real-node","operator":"Equal","value":"true","effect":"NoSchedule"}]}}}'
else
  $started_cluster && k apply -f hack/local/model-store.yaml >/dev/null
  say "applying the samples (config/samples)"
  k apply -f "${versions[0]}" -f "${versions[1]}" \
    -f config/samples/modeldeployment.yaml -f config/samples/driftmonitor.yaml
fi

if [ -z "$prometheus" ] && [ "$mode" = REAL ]; then
  say "starting Prometheus (scraping the pods' proxies) and real clients at 10 req/s"
  demo_state="$cluster_dir/demo-real.env"; : >"$demo_state"
  node hack/demo-real.ts --cluster-dir "$cluster_dir" --bin-dir "$bin" --state-file "$demo_state" &
  traffic_pid=$!
  for _ in $(seq 1 60); do grep -q '^PROMETHEUS_URL=' "$demo_state" && break; sleep 0.5; done
  prometheus=$(sed -n 's/^PROMETHEUS_URL=//p' "$demo_state")
  [ -n "$prometheus" ] || { echo "[up] Prometheus did not start" >&2; exit 1; }
elif [ -z "$prometheus" ] && $started_cluster; then
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
if [ "$mode" = REAL ]; then
  cat <<MSG
[up] REAL mode: MLServer serves iris-classifier on node modelops-node; call it:
  kubectl port-forward svc/iris-classifier 9000:80 &
  curl -s localhost:9000/v2/models/iris-classifier/infer -H 'content-type: application/json' \\
    -d '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}'
  (or, from this host, curl the Service's ClusterIP: kubectl get svc iris-classifier)
MSG
elif [ "$mode" = SIMULATED ]; then
  echo "[up] SIMULATED mode: KWOK pods run no container; Prometheus gets simulated traffic series"
fi

if $rollout; then
  # Real pods start MLServer (image already on the node): allow more time.
  timeout=120; [ "$mode" = REAL ] && timeout=300
  if k wait mdep/iris-classifier --for=jsonpath='{.status.phase}'=Available --timeout=${timeout}s >/dev/null; then
    if [ "$mode" = REAL ] && [ -n "$traffic_pid" ]; then
      # The canary is judged on real traffic: let v1 serve some first.
      for _ in $(seq 1 60); do grep -q '^LOAD_URL=' "$demo_state" && break; sleep 0.5; done
      say "iris-classifier is Available on v1; 20 s of real traffic on v1 before the rollout"
      sleep 20
    fi
    say "iris-classifier is Available on v1; rolling it to iris-classifier-v2 (canary: 20%, pause, 50%, analysis, pause; ~4 min)"
    k patch mdep iris-classifier --type=merge -p '{"spec":{"modelVersion":"iris-classifier-v2"}}' >/dev/null
  else
    say "iris-classifier did not become Available within $timeout s; see: kubectl describe mdep iris-classifier"
  fi
fi
wait "$operator_pid"
