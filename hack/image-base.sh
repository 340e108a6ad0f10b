#!/usr/bin/env bash
# Builds a local stand-in of the Dockerfile's base image (node:24-slim) in the
# private engine, since no base image can be pulled here: a Debian bookworm
# minbase root filesystem (debootstrap, from the host's own Debian mirror)
# plus the project's pinned Node 24 binary (the `node` devDependency) and npm,
# with a `node` user (uid 1000), as the official slim image has. The rootfs
# is cached outside the repo; the image is re-imported only when missing or
# when the Node version changes. Needs DOCKER_HOST (hack/image-dockerd.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$0")/lib/cache.sh"
source "$(dirname "$0")/lib/debootstrap.sh"
base_image=${NODE_IMAGE:-node:24-slim}
node_bin=$root/node_modules/node/bin/node
node_version=$("$node_bin" --version)
log() { printf '[image-base] %s\n' "$*" >&2; }

if [ "$(docker image inspect -f '{{ index .Config.Labels "modelops.standin.node" }}' "$base_image" 2>/dev/null)" = "$node_version" ]; then
  log "$base_image (node $node_version): present"; exit 0
fi

rootfs=$cache/image-base/bookworm-minbase
if [ ! -x "$rootfs/bin/sh" ]; then
  log "debootstrap bookworm minbase (about a minute)"
  debootstrap_rootfs "$rootfs" "$cache/image-base/debootstrap.log"
  # What the official slim variant leaves out too: docs, man pages, apt lists.
  rm -rf "$rootfs.tmp"/var/lib/apt/lists/* "$rootfs.tmp"/var/cache/apt/*.bin \
    "$rootfs.tmp"/usr/share/doc/* "$rootfs.tmp"/usr/share/man/* "$rootfs.tmp"/usr/share/info/*
  mv "$rootfs.tmp" "$rootfs"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/node_modules" "$stage/etc"
# The release binary carries debug info the official images do not ship.
if command -v objcopy >/dev/null; then objcopy --strip-debug "$node_bin" "$stage/usr/local/bin/node"
else cp "$node_bin" "$stage/usr/local/bin/node"; fi
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
cp -r "$npm_dir" "$stage/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
cp "$rootfs/etc/passwd" "$rootfs/etc/group" "$stage/etc/"
echo "node:x:1000:1000::/home/node:/bin/bash" >>"$stage/etc/passwd"
echo "node:x:1000:" >>"$stage/etc/group"
mkdir -p "$stage/home/node" && chown 1000:1000 "$stage/home/node"

# The host's extra trusted CAs, if any (e.g. a TLS-inspecting path to the
# package registry), so npm inside builds trusts what npm on the host does.
extra_ca=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$stage/usr/local/share/ca-certificates"
  cp "$NODE_EXTRA_CA_CERTS" "$stage/usr/local/share/ca-certificates/host-extra.pem"
  extra_ca=(--change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-extra.pem")
fi

log "importing $base_image (node $node_version)"
tar -C "$rootfs" --exclude=./etc/passwd --exclude=./etc/group -c . \
  | tar -C "$stage" -x --skip-old-files
tar -C "$stage" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL modelops.standin.node=$node_version" \
  "${extra_ca[@]}" --change 'CMD ["node"]' - "$base_image" >/dev/null
log "$base_image: $(docker image inspect -f '{{ .Size }}' "$base_image") bytes"
