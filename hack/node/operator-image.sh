#!/usr/bin/env bash
# Builds the operator image (which is also the proxy sidecar's) with the
# private Docker engine from the real Dockerfile, as the image test does, and
# saves it as a docker-archive tarball the real node imports. The tarball is
# cached by image ID, so an unchanged build is not saved again. Prints the
# tarball's path and the image reference on its last line: "TARBALL IMAGE".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/hack/lib/cache.sh"
source "$root/hack/lib/image-tarball.sh"
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
save_image_tarball operator "$image"
id=$(docker image inspect -f '{{.Id}}' "$image")
log "$image ($id) ready in $(( $(date +%s) - start ))s"
echo "$tarball $image"
