#!/usr/bin/env bash
# Creates (once) a Python venv with MLServer and scikit-learn, cached outside
# the repo and keyed by the pinned versions, and prints its path. The proxy's
# integration test and benchmark serve real sklearn models with it.
set -euo pipefail

# MLSERVER_VERSION and SKLEARN_VERSION: pinned once for this venv and the
# real node's image (hack/node/images.sh).
source "$(dirname "$0")/../versions.env"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

KEY="mlserver-${MLSERVER_VERSION}-sklearn-${SKLEARN_VERSION}-$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
source "$(dirname "$0")/../lib/cache.sh"
VENV="$cache/venv-$KEY"

if [[ -x "$VENV/bin/mlserver" && -f "$VENV/.complete" ]]; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$cache"
# An interrupted install leaves no .complete marker: start it over.
rm -rf "$VENV"
start=$(date +%s)
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
  "scikit-learn==$SKLEARN_VERSION" joblib >&2
touch "$VENV/.complete"
echo "venv $VENV installed in $(( $(date +%s) - start ))s" >&2
echo "$VENV"
