#!/usr/bin/env bash
# Builds the modelops-proxy image (operator/proxy/Dockerfile, FROM scratch)
# with the private Docker engine, as hack/node/operator-image.sh does the
# operator's: the release binary (hack/proxy.sh) and the shared libraries
# `ldd` lists for it are staged in a temporary build context. Saves it as a
# docker-archive tarball the real node imports, cached by image ID. Prints
# the tarball's path and the image reference on its last line: "TARBALL IMAGE".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/hack/lib/cache.sh"
source "$root/hack/lib/image-tarball.sh"
log() { printf '[proxy-image] %s\n' "$*" >&2; }
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json" | head -1)
image="modelops-proxy:$version"

binary=$(bash "$root/hack/proxy.sh" | tail -n 1)
context=$(mktemp -d)
# The private engine is stopped again if this script started it.
cleanup() { rm -rf "$context"; }
if ! bash "$root/hack/image-dockerd.sh" status; then
  cleanup() { rm -rf "$context"; bash "$root/hack/image-dockerd.sh" stop; }
fi
trap cleanup EXIT
export "$(bash "$root/hack/image-dockerd.sh" start | tail -n 1)"
start=$(date +%s)

mkdir -p "$context/rootfs"
cp "$binary" "$context/rootfs/modelops-proxy"
# Each library at the path the binary asks for ("name => /path (addr)", or
# "/path (addr)" for the loader); linux-vdso has no file. -L copies the file
# behind a symlink.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
  mkdir -p "$context/rootfs$(dirname "$lib")"
  cp -L "$lib" "$context/rootfs$lib"
done
cp "$root/operator/proxy/Dockerfile" "$context/Dockerfile"
docker build --quiet -t "$image" "$context" >/dev/null
save_image_tarball proxy "$image"
id=$(docker image inspect -f '{{.Id}}' "$image")
log "$image ($id, $(( $(docker image inspect -f '{{.Size}}' "$image") / 1000 )) kB) ready in $(( $(date +%s) - start ))s"
echo "$tarball $image"
