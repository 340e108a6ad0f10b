#!/usr/bin/env bash
# Runs every check and test on a fresh machine: installs dependencies, builds
# the pinned cluster binaries (cached outside the repo), then lint, type
# check, CRD freshness, unit tests and integration tests against a real local
# control plane. Ends with one line of counts (hack/test-summary.ts); extra
# arguments go to vitest (e.g. a file, or -t NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
start=$(date +%s)
step() { printf '\n=== %s\n' "$*"; }

step "node $(node --version)"
step "building or reusing cluster binaries"
bash hack/build-binaries.sh >/dev/null
step "building or reusing the modelops-proxy binary (Rust, release; minutes when cold), and its own tests"
bash hack/proxy.sh --test >/dev/null
step "building or reusing the real servers the tests talk to: MLServer, MLflow, SeaweedFS (S3), prometheus-adapter"
bash hack/model-server/venv.sh >/dev/null
bash hack/mlflow/venv.sh >/dev/null
bash hack/seaweedfs.sh >/dev/null
bash hack/prometheus-adapter.sh >/dev/null
# Argo Rollouts, the baseline of the scale benchmark's smoke run (e2e/scale.test.ts).
bash hack/argo-rollouts.sh >/dev/null
# Argo CD, the GitOps controller of e2e/gitops.test.ts (5-11 minutes cold on 2 cores).
bash hack/argocd.sh >/dev/null
step "building or reusing the real node's packages and images (MLServer, pause, the operator's, the proxy's)"
bash hack/node/packages.sh
bash hack/node/images.sh >/dev/null
bash hack/node/operator-image.sh >/dev/null
bash hack/proxy-image.sh >/dev/null
step "building or reusing helm; Lua 5.1 for the Argo CD scripts"
bash hack/helm.sh >/dev/null
bash hack/lua.sh >/dev/null
step "lint";        biome check .
step "type check";  tsc --noEmit -p tsconfig.json
step "CRDs are what the generator writes"; node hack/generate-crds.ts --check
step "the proxy's contract.rs is what the generator writes"; node hack/generate-proxy-contract.ts --check
step "unit and integration tests"
# The integration run ends by asking the apiserver whether the chart's RBAC
# allows every kind of request the operator made (e2e/harness/rbac.ts);
# `npm run test:rbac` runs the whole suite as that ServiceAccount instead.
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
status=0
vitest run --reporter=default --reporter=json --outputFile.json="$report/vitest.json" "$@" || status=$?
step "summary ($(( $(date +%s) - start ))s)"
# Counts files and tests, and fails on a skip nobody asked for (see the script).
node hack/test-summary.ts "$report/vitest.json" "$@" || status=1
exit "$status"
