#!/usr/bin/env bash
# Local control plane for development (etcd, kube-apiserver, controller-manager,
# scheduler, kwok nodes):
#   bash hack/cluster.sh start|stop|status [--dir DIR] [--nodes N]
# `start` builds the pinned binaries first (cached after the first time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The machine's node is older than the project needs; node 24 comes from the
# `node` devDependency.
if [ ! -x node_modules/.bin/node ]; then
  echo "[cluster] node_modules missing; running npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
export PATH="$root/node_modules/.bin:$PATH"

if [ "${1:-}" = "start" ] && [ -z "${MODELOPS_BIN_DIR:-}" ]; then
  MODELOPS_BIN_DIR=$(bash hack/build-binaries.sh | tail -n 1)
  export MODELOPS_BIN_DIR
fi
exec node hack/cluster.ts "$@"
