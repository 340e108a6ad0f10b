#!/usr/bin/env bash
# Prints the path of an nginx binary (the plain reverse proxy bench/proxy.ts
# measures modelops-proxy against), installing Debian's nginx-light when none
# is on the PATH. Progress goes to stderr; the path is the last line of stdout.
set -euo pipefail
log() { printf '[nginx] %s\n' "$*" >&2; }

export PATH=$PATH:/usr/sbin:/sbin
if ! command -v nginx >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing nginx-light"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale or absent (fresh containers): refresh them only then.
  if ! $sudo apt-get install -y --no-install-recommends nginx-light >&2; then
    $sudo apt-get update >&2
    $sudo apt-get install -y --no-install-recommends nginx-light >&2
  fi
fi
command -v nginx
