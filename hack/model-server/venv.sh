#!/usr/bin/env bash
# Creates (once) a Python venv with MLServer and scikit-learn, cached outside
# the repo and keyed by the pinned versions, and prints its path. The proxy's
# integration test and benchmark serve real sklearn models with it.
set -euo pipefail

# MLSERVER_VERSION and SKLEARN_VERSION: pinned once for this venv and the
# real node's image (hack/node/images.sh).
source "$(dirname "$0")/../versions.env"
source "$(dirname "$0")/../lib/venv.sh"
cached_venv "mlserver-${MLSERVER_VERSION}-sklearn-${SKLEARN_VERSION}" mlserver \
  "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
  "scikit-learn==$SKLEARN_VERSION" joblib
