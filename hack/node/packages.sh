#!/usr/bin/env bash
# Installs (once) the Debian packages the real node runs on: containerd, runc,
# the CNI plugins, iptables (kube-proxy's rules) and iproute2 (network
# namespaces). Idempotent; prints nothing on stdout.
set -euo pipefail
log() { printf '[node-packages] %s\n' "$*" >&2; }
missing=()
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables-restore >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v conntrack >/dev/null || missing+=(conntrack)
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing ${missing[*]} (Debian packages)"
apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
  { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
