#!/usr/bin/env bash
# Creates (once) a Python venv with the MLflow tracking server (with its
# basic-auth app, the `auth` extra) and scikit-learn, cached outside the repo
# and keyed by the pinned versions, and prints its path last. The MLflow tests
# (e2e/mlflow.test.ts) run a real `mlflow server` from it
# (hack/localcluster/mlflow-server.ts) and register models with
# hack/mlflow/register.py.
# Cold install, measured: 59 s (mlflow 3.17.2 with its auth extra and
# scikit-learn 1.5.2 on python 3.11, pip without its cache); a cached venv is
# reused in well under a second.
set -euo pipefail

# MLFLOW_VERSION and SKLEARN_VERSION from the one pin file.
source "$(dirname "$0")/../versions.env"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

KEY="mlflow-${MLFLOW_VERSION}-sklearn-${SKLEARN_VERSION}-$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
source "$(dirname "$0")/../lib/cache.sh"
VENV="$cache/venv-$KEY"

if [[ -x "$VENV/bin/mlflow" && -f "$VENV/.complete" ]]; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$cache"
# An interrupted install leaves no .complete marker: start it over.
rm -rf "$VENV"
start=$(date +%s)
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "mlflow[auth]==$MLFLOW_VERSION" "scikit-learn==$SKLEARN_VERSION" >&2
touch "$VENV/.complete"
echo "venv $VENV installed in $(( $(date +%s) - start ))s" >&2
echo "$VENV"
