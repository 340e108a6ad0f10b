# Sourced by hack/*/venv.sh: `cached_venv NAME MARKER PACKAGE...` creates (once)
# a Python venv in the project cache, keyed by NAME and the Python version,
# with the pinned PACKAGEs, and prints its path last. MARKER is a program the
# venv must have (bin/MARKER). An interrupted install leaves no .complete
# marker and starts over.
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

cached_venv() {
  local name=$1 marker=$2
  shift 2
  local python=${PYTHON:-python3.11}
  command -v "$python" >/dev/null || python=python3
  local key
  key="$name-$("$python" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
  local venv="$cache/venv-$key"
  if [[ -x "$venv/bin/$marker" && -f "$venv/.complete" ]]; then
    echo "$venv"
    return 0
  fi
  mkdir -p "$cache"
  rm -rf "$venv"
  local start
  start=$(date +%s)
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  touch "$venv/.complete"
  echo "venv $venv installed in $(( $(date +%s) - start ))s" >&2
  echo "$venv"
}
