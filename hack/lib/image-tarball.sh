# Sourced by hack/ scripts that build an image the real node imports: saves
# IMAGE as a docker-archive tarball under $cache/node-images/PREFIX-<image id>
# (only the current build's is kept, so an unchanged build is not saved
# again) and sets $tarball to its path. Needs $cache (hack/lib/cache.sh).
save_image_tarball() {
  local prefix=$1 image=$2 id short out
  id=$(docker image inspect -f '{{.Id}}' "$image")
  short=${id#sha256:}
  out=$cache/node-images/$prefix-${short:0:12}
  if [ ! -f "$out/image.tar" ]; then
    rm -rf "$cache"/node-images/"$prefix"-*
    mkdir -p "$out"
    docker save -o "$out/image.tar.tmp" "$image"
    mv "$out/image.tar.tmp" "$out/image.tar"
  fi
  tarball=$out/image.tar
}
