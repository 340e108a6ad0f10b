#!/usr/bin/env bash
# Builds the images the real test node runs, without docker and without a
# registry (the node can pull nothing): each is written as a docker-archive
# tarball (manifest.json, config JSON, uncompressed layer tars) that
# `ctr -n k8s.io images import` loads into containerd.
#
#   pause.tar     modelops.local/pause:<hash>   the pod sandbox: our static
#                 pause binary (hack/node/pause.c) and nothing else
#   mlserver.tar  modelops.local/mlserver-sklearn:<mlserver>-sklearn<sklearn>-<hash>
#                 a Debian bookworm minbase root filesystem with Debian's
#                 python3.11 (layer 1) plus MLServer, mlserver-sklearn and
#                 scikit-learn at the versions in hack/versions.env (layer 2)
#
# The mlserver image starts the way the operator's pod runs it: the pod gives
# no command or args, only MLSERVER_HTTP_PORT, MLSERVER_MODEL_NAME,
# MLSERVER_MODEL_URI and MLSERVER_MODEL_IMPLEMENTATION
# (operator/core/runtime-container.ts). `mlserver start` on a folder without
# any model-settings.json falls back to one model defined by those variables
# (mlserver/repository/repository.py), and the sklearn runtime finds
# model.joblib inside the MLSERVER_MODEL_URI folder; so the image starts on an
# empty folder of its own, whatever /mnt/models holds besides the model.
#
# Output is cached outside the repo under $cache/node-images, keyed by a hash
# of this script, pause.c and the pinned versions; the debootstrap root
# filesystem is cached on its own. Progress goes to stderr; the last stdout
# line is the directory holding pause.tar, mlserver.tar and images.env
# (PAUSE_IMAGE=..., MLSERVER_IMAGE=...). Needs root (debootstrap), gcc and
# the host's python3.11 with pip (the wheels are installed for 3.11).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cache.sh"
source "$here/../versions.env"
source "$here/../lib/debootstrap.sh"
log() { printf '[node-images] %s\n' "$*" >&2; }
PYTHON=${PYTHON:-python3.11}

hash_of() { cat "$@" | sha256sum | cut -c1-12; }
pause_hash=$(hash_of "$here/pause.c" "$here/images.sh")
mlserver_hash=$(hash_of "$here/images.sh" <(echo "mlserver=$MLSERVER_VERSION sklearn=$SKLEARN_VERSION"))
pause_image=modelops.local/pause:$pause_hash
mlserver_image=modelops.local/mlserver-sklearn:$MLSERVER_VERSION-sklearn$SKLEARN_VERSION-$mlserver_hash

base=$cache/node-images
out=$base/images-$pause_hash-$mlserver_hash
if [ -f "$out/.complete" ]; then
  log "cached: $pause_image, $mlserver_image"
  echo "$out"
  exit 0
fi
start=$(date +%s)
mkdir -p "$base"
work=$(mktemp -d "$base/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Writes a docker-archive: manifest.json, the config (named by its sha256)
# and each layer tar under <diff_id>/layer.tar. The diff_id is the sha256 of
# the uncompressed layer tar. Args: OUT.tar SPEC.json, SPEC holding
# repoTag, config (Env, Entrypoint, Cmd, WorkingDir) and layers (paths).
write_archive() {
  python3 - "$1" "$2" <<'PY'
import hashlib, io, json, sys, tarfile

out, spec_path = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = json.load(f)

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

diff_ids = [sha256_file(p) for p in spec["layers"]]
config = {
    "architecture": "amd64",
    "os": "linux",
    "created": "1970-01-01T00:00:00Z",
    "config": spec["config"],
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diff_ids]},
    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": c} for c in spec["history"]],
}
config_bytes = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
manifest = [{
    "Config": config_name,
    "RepoTags": [spec["repoTag"]],
    "Layers": [d + "/layer.tar" for d in diff_ids],
}]

def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))

with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
    for d, path in zip(diff_ids, spec["layers"]):
        dir_info = tarfile.TarInfo(d)
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = 0o755
        tar.addfile(dir_info)
        info = tar.gettarinfo(path, arcname=d + "/layer.tar")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        with open(path, "rb") as f:
            tar.addfile(info, f)
    add_bytes(tar, config_name, config_bytes)
    add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
PY
}

# A layer tar of a directory's contents (--numeric-owner keeps the root
# filesystem's own ids; the staged layers pass --owner=0 --group=0). The
# directory itself becomes the image's / : mode 755.
layer_tar() {
  local dir=$1 tarball=$2
  shift 2
  chmod 755 "$dir"
  tar --sort=name --numeric-owner "$@" -C "$dir" -cf "$tarball" .
}

# --- pause ---------------------------------------------------------------
log "pause: gcc -static"
mkdir -p "$work/pause-root"
gcc -static -O2 -s -o "$work/pause-root/pause" "$here/pause.c"
layer_tar "$work/pause-root" "$work/pause-layer.tar" --owner=0 --group=0 --mtime=@0
cat >"$work/pause.json" <<EOF
{"repoTag": "$pause_image",
 "config": {"Entrypoint": ["/pause"], "WorkingDir": "/",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
 "layers": ["$work/pause-layer.tar"],
 "history": ["COPY pause /pause (hack/node/pause.c, gcc -static -O2)"]}
EOF
write_archive "$work/pause.tar" "$work/pause.json"

# --- root filesystem: bookworm minbase + python3.11, cached -----------------
rootfs=$base/rootfs-bookworm-minbase-python3.11
if [ ! -x "$rootfs/usr/bin/python3.11" ]; then
  log "debootstrap bookworm minbase with python3.11 (a minute or two; log in $base/debootstrap.log)"
  debootstrap_rootfs "$rootfs" "$base/debootstrap.log" --include=python3.11
  # Nothing a model server reads: docs, man pages, apt lists and caches.
  rm -rf "$rootfs.tmp"/var/lib/apt/lists/* "$rootfs.tmp"/var/cache/apt/* \
    "$rootfs.tmp"/var/cache/debconf/*-old "$rootfs.tmp"/var/log/* \
    "$rootfs.tmp"/usr/share/doc/* "$rootfs.tmp"/usr/share/man/* "$rootfs.tmp"/usr/share/info/* \
    "$rootfs.tmp"/usr/share/locale/* "$rootfs.tmp"/usr/share/lintian
  mv "$rootfs.tmp" "$rootfs"
fi
log "mlserver: root filesystem layer"
# /dev, /proc and /sys are the runtime's to fill.
layer_tar "$rootfs" "$work/base-layer.tar" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  --exclude='./tmp/*' --exclude='./run/*'

# --- MLServer + scikit-learn, installed with the host's pip for python3.11 ---
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' ||
  { log "need python3.11 (PYTHON=...) to install wheels for the image's python3.11"; exit 1; }
stage=$work/mlserver-root
site=$stage/opt/mlserver/site-packages
log "mlserver: pip install mlserver==$MLSERVER_VERSION scikit-learn==$SKLEARN_VERSION"
mkdir -p "$site" "$stage/opt/mlserver/models"
# --no-warn-conflicts: with --target, pip would judge the host's own packages.
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-compile \
  --no-warn-conflicts --root-user-action=ignore --only-binary=:all: --target "$site" \
  "mlserver==$MLSERVER_VERSION" "mlserver-sklearn==$MLSERVER_VERSION" \
  "scikit-learn==$SKLEARN_VERSION" joblib >&2
# Console scripts point at the host's interpreter: point them at the image's.
for f in "$site"/bin/*; do
  if head -c2 "$f" | grep -q '^#!'; then sed -i '1s|^#!.*python.*$|#!/usr/bin/python3.11|' "$f"; fi
done
# Test suites of the big numeric packages are never imported by a server.
for p in numpy scipy sklearn pandas; do
  find "$site/$p" -depth -type d -name tests -exec rm -rf {} + 2>/dev/null || true
done
rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* "$site"/share/man
# Byte-code once here, checked by hash not by mtime, so each container skips
# compiling MLServer's imports at start.
"$PYTHON" -m compileall -q -j0 --invalidation-mode unchecked-hash "$site" >/dev/null || true
layer_tar "$stage" "$work/mlserver-layer.tar" --owner=0 --group=0

# The image's environment (MLServer reads MLSERVER_<setting>, pydantic
# settings): inference in the server process (parallel_workers 0, no worker
# pool to start or leak); the gRPC port pinned to MLServer's default 8081 and
# the metrics server off (an empty metrics_endpoint), so nothing but the pod's
# HTTP port and 8081 is bound and the sidecar's 8000 and 9090 stay free (the
# sidecar exports the traffic metrics). MLSERVER_METRICS_PORT only matters if
# a pod sets MLSERVER_METRICS_ENDPOINT=/metrics again. The pod's own env
# (MLSERVER_HTTP_PORT, MLSERVER_MODEL_*) overrides these.
site_in_image=/opt/mlserver/site-packages
cat >"$work/mlserver.json" <<EOF
{"repoTag": "$mlserver_image",
 "config": {
   "Entrypoint": ["mlserver"],
   "Cmd": ["start", "/opt/mlserver/models"],
   "WorkingDir": "/opt/mlserver",
   "Env": [
     "PATH=$site_in_image/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
     "PYTHONPATH=$site_in_image",
     "PYTHONUNBUFFERED=1",
     "MLSERVER_PARALLEL_WORKERS=0",
     "MLSERVER_HTTP_PORT=8080",
     "MLSERVER_GRPC_PORT=8081",
     "MLSERVER_METRICS_ENDPOINT=",
     "MLSERVER_METRICS_PORT=8082"
   ],
   "ExposedPorts": {"8080/tcp": {}, "8081/tcp": {}}
 },
 "layers": ["$work/base-layer.tar", "$work/mlserver-layer.tar"],
 "history": ["debootstrap --variant=minbase --include=python3.11 bookworm",
             "pip install --target $site_in_image mlserver==$MLSERVER_VERSION mlserver-sklearn==$MLSERVER_VERSION scikit-learn==$SKLEARN_VERSION joblib"]}
EOF
write_archive "$work/mlserver.tar" "$work/mlserver.json"

printf 'PAUSE_IMAGE=%s\nMLSERVER_IMAGE=%s\n' "$pause_image" "$mlserver_image" >"$work/images.env"
rm -rf "$out"
# Earlier builds' images (each about half a gigabyte) are not kept.
for old in "$base"/images-*; do [ -d "$old" ] && rm -rf "$old"; done
mkdir -p "$out"
mv "$work/pause.tar" "$work/mlserver.tar" "$work/images.env" "$out/"
touch "$out/.complete"
log "pause.tar $(du -h "$out/pause.tar" | cut -f1), mlserver.tar $(du -h "$out/mlserver.tar" | cut -f1) (layers: root filesystem $(du -h "$work/base-layer.tar" | cut -f1), MLServer $(du -h "$work/mlserver-layer.tar" | cut -f1))"
log "built $pause_image, $mlserver_image in $(( $(date +%s) - start ))s"
echo "$out"
