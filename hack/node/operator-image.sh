#!/usr/bin/env bash
# Builds the operator image (which is also the proxy sidecar's) with the
# private Docker engine from the real Dockerfile, as the image test does, and
# saves it as a docker-archive tarball the real node imports. The tarball is
# cached by image ID, so an unchanged build is not saved again. Prints the
# tarball's path and the image reference on its last line: "TARBALL IMAGE".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/hack/lib/cache.sh"
log() { printf '[operator-image] %s\n' "$*" >&2; }
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json" | head -1)
image="modelops-operator:$version"

# The private engine is stopped again if this script started it.
if ! bash "$root/hack/image-dockerd.sh" status; then
  trap 'bash "$root/hack/image-dockerd.sh" stop' EXIT
fi
export "$(bash "$root/hack/image-dockerd.sh" start | tail -n 1)"
bash "$root/hack/image-base.sh"
start=$(date +%s)
docker build --quiet --network=host -t "$image" "$root" >/dev/null
id=$(docker image inspect -f '{{.Id}}' "$image")
short=${id#sha256:}
out=$cache/node-images/operator-${short:0:12}
if [ ! -f "$out/image.tar" ]; then
  # Only the current build's tarball is worth keeping.
  rm -rf "$cache"/node-images/operator-*
  mkdir -p "$out"
  docker save -o "$out/image.tar.tmp" "$image"
  mv "$out/image.tar.tmp" "$out/image.tar"
fi
log "$image ($id) ready in $(( $(date +%s) - start ))s"
echo "$out/image.tar $image"
