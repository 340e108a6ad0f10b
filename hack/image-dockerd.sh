#!/usr/bin/env bash
# Starts a private Docker engine (Debian's docker.io) for image builds and
# tests, with its own socket and data root in the cache, so it never touches
# a system engine. Idempotent.
#   hack/image-dockerd.sh start   prints DOCKER_HOST=unix://... on its last line
#   hack/image-dockerd.sh stop    stops the engine this script started (by its pid file)
#   hack/image-dockerd.sh status  exit 0 when that engine runs
set -euo pipefail
source "$(dirname "$0")/lib/cache.sh"
dir=$cache/dockerd
sock=$dir/docker.sock
pidfile=$dir/dockerd.pid
log() { printf '[dockerd] %s\n' "$*" >&2; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  command -v dockerd >/dev/null || {
    log "installing docker.io (Debian package)"
    apt-get install -y --no-install-recommends docker.io >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends docker.io >&2; }
  }
  mkdir -p "$dir"
  if ! running; then
    # No bridge or iptables: builds and test containers use the host's
    # network (the test apiserver listens on loopback), and nothing is
    # changed in the host's firewall.
    dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
      --pidfile "$pidfile" --bridge none --iptables=false --ip6tables=false \
      >"$dir/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
      DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 && break
      sleep 0.5
    done
    DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 ||
      { log "dockerd did not start; see $dir/dockerd.log"; tail -20 "$dir/dockerd.log" >&2; exit 1; }
    log "started (pid $(cat "$pidfile"))"
  fi
  echo "DOCKER_HOST=unix://$sock"
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    log "stopped (pid $pid)"
  fi
  # dockerd leaves its network namespace mount (exec/netns/default) behind;
  # unmount what is under its folder so the folder can be removed.
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

case "${1:-start}" in
  start) start ;;
  status) running ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
