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
source "$(dirname "$0")/../lib/venv.sh"
cached_venv "mlflow-${MLFLOW_VERSION}-sklearn-${SKLEARN_VERSION}" mlflow \
  "mlflow[auth]==$MLFLOW_VERSION" "scikit-learn==$SKLEARN_VERSION"
