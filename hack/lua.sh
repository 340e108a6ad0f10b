#!/usr/bin/env bash
# Installs the Lua 5.1 interpreter (Argo CD runs health checks and actions
# in gopher-lua, a Lua 5.1) from the Debian package when missing.
# Prints the interpreter's path on its last line of stdout.
set -euo pipefail
if ! command -v lua5.1 >/dev/null; then
  echo "[lua] installing lua5.1 (Debian package)" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y --no-install-recommends lua5.1 >&2 ||
    { $sudo_cmd apt-get update >&2 && $sudo_cmd apt-get install -y --no-install-recommends lua5.1 >&2; }
fi
command -v lua5.1
