#!/usr/bin/env bash
# Proves the images that images.sh builds really run, without a kubelet.
# pause: runs under runc and exits 0 on SIGTERM. mlserver: unpacks the image's layers into a temporary root filesystem and
# runs it with runc the way the operator's pod runs it (the image's own
# Entrypoint/Cmd, no args; only the MLSERVER_* variables the pod sets, and a
# trained model folder mounted at /mnt/models), on the host network. Then a
# V2 readiness check and a V2 inference request must answer 200, and a
# request to the erring model must answer an error.
#
# usage: verify-mlserver-image.sh [IMAGES_DIR]   (default: build with images.sh)
# env:   PORT (default 18080), GRPC_PORT (default 18081): host ports, since
#        the container shares the host's network.
# Needs root and runc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[verify-images] %s\n' "$*" >&2; }
port=${PORT:-18080}
grpc_port=${GRPC_PORT:-18081}
images=${1:-$(bash "$here/images.sh" | tail -1)}
venv=$(bash "$here/../model-server/venv.sh" | tail -1)

work=$(mktemp -d)
id=modelops-verify-$$
cleanup() {
  runc kill "$id" KILL >/dev/null 2>&1 || true
  runc delete --force "$id" >/dev/null 2>&1 || true
  runc delete --force "$id-pause" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The layers of IMAGE.tar, in order, unpacked into DIR.
unpack() {
  local tarball=$1 dir=$2
  rm -rf "$work/image" && mkdir -p "$work/image" "$dir"
  tar -C "$work/image" -xf "$tarball"
  python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' \
    "$work/image/manifest.json" >"$work/layers"
  while read -r layer; do
    tar --numeric-owner -xpf "$work/image/$layer" -C "$dir"
  done <"$work/layers"
}

log "pause: runc run, then SIGTERM"
unpack "$images/pause.tar" "$work/pause/rootfs"
(cd "$work/pause" && runc spec && python3 - config.json <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/pause"]
spec["root"]["readonly"] = True
json.dump(spec, open(sys.argv[1], "w"))
PY
)
runc run --bundle "$work/pause" "$id-pause" >"$work/pause.log" 2>&1 &
runner=$!
for _ in $(seq 1 50); do runc state "$id-pause" 2>/dev/null | grep -q '"running"' && break; sleep 0.1; done
sleep 0.3
runc kill "$id-pause" TERM
pause_rc=0
wait "$runner" || pause_rc=$?
runc delete --force "$id-pause" >/dev/null 2>&1 || true
log "pause: exited $pause_rc on SIGTERM"
[ "$pause_rc" = 0 ] || { cat "$work/pause.log" >&2; exit 1; }

log "training the models"
"$venv/bin/python" "$here/../model-server/train.py" "$work/models" >&2

log "unpacking $images/mlserver.tar"
unpack "$images/mlserver.tar" "$work/bundle/rootfs"

# runc's default spec, with the image's process and the pod's environment.
run_bundle() {
  local model=$1
  rm -f "$work/bundle/config.json"
  (cd "$work/bundle" && runc spec)
  python3 - "$work/image" "$work/bundle/config.json" "$model" "$port" "$grpc_port" <<'PY'
import json, sys
image_dir, spec_path, model, port, grpc_port = sys.argv[1:]
m = json.load(open(f"{image_dir}/manifest.json"))[0]
cfg = json.load(open(f"{image_dir}/{m['Config']}"))["config"]
spec = json.load(open(spec_path))
env = dict(e.split("=", 1) for e in cfg.get("Env", []))
# What operator/core/runtime-container.ts gives the mlserver container.
env.update({
    "MLSERVER_HTTP_PORT": port,
    "MLSERVER_MODEL_NAME": "iris",
    "MLSERVER_MODEL_URI": "/mnt/models",
    "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_sklearn.SKLearnModel",
    # Host network here: keep off the host's 8081.
    "MLSERVER_GRPC_PORT": grpc_port,
})
p = spec["process"]
p["terminal"] = False
p["args"] = cfg.get("Entrypoint", []) + cfg.get("Cmd", [])
p["env"] = [f"{k}={v}" for k, v in env.items()]
p["cwd"] = cfg.get("WorkingDir") or "/"
spec["root"] = {"path": "rootfs", "readonly": False}
spec["hostname"] = "mlserver"
spec["mounts"].append({"destination": "/mnt/models", "type": "bind", "source": model,
                       "options": ["rbind", "ro"]})
spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
json.dump(spec, open(spec_path, "w"), indent=1)
PY
  runc run -d --bundle "$work/bundle" "$id" >"$work/$2.log" 2>&1
}

wait_ready() {
  local t0=$1
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "localhost:$port/v2/health/ready")" = 200 ]; then
      echo $(( $(date +%s%N) / 1000000 - t0 ))
      return 0
    fi
    if ! runc state "$id" 2>/dev/null | grep -q '"running"'; then
      log "container exited:"; cat "$work/$2.log" >&2; return 1
    fi
    sleep 0.1
  done
  log "not ready in 60s:"; cat "$work/$2.log" >&2; return 1
}

infer() {
  curl -s -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[$1]}]}" \
    "localhost:$port/v2/models/iris/infer"
}

stop_container() {
  runc kill "$id" TERM >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do runc state "$id" 2>/dev/null | grep -q '"stopped"' && break; sleep 0.1; done
  runc delete --force "$id" >/dev/null 2>&1 || true
}

# The good model: ready, and a 200 with a prediction.
t0=$(( $(date +%s%N) / 1000000 ))
run_bundle "$work/models/logreg/iris" logreg
ms=$(wait_ready "$t0" logreg)
log "logreg: ready in ${ms}ms (runc run to /v2/health/ready 200)"
code=$(infer 5.1,3.5,1.4,0.2)
log "logreg: POST /v2/models/iris/infer -> $code $(cat "$work/answer")"
[ "$code" = 200 ] || { cat "$work/logreg.log" >&2; exit 1; }
pid=$(runc state "$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
listening=$(ss -ltnpH | awk -v p="pid=$pid," 'index($0, p) { n = split($4, a, ":"); print a[n] }' | sort -n | tr '\n' ' ')
log "logreg: MLServer listens on: $listening"
[ "$listening" = "$port $grpc_port " ] || { log "expected only $port and $grpc_port"; exit 1; }
stop_container

# The erring model (train.py): a versicolor-like row answers 200, a
# setosa-like one (a feature more than one deviation below its mean) an error.
run_bundle "$work/models/erring/iris" erring
wait_ready "$(( $(date +%s%N) / 1000000 ))" erring >/dev/null
ok=$(infer 6.4,3.2,4.5,1.5)
bad=$(infer 5.1,3.5,1.4,0.2)
log "erring: [6.4,3.2,4.5,1.5] -> $ok, [5.1,3.5,1.4,0.2] -> $bad"
[ "$ok" = 200 ] && [ "$bad" -ge 400 ] || exit 1
stop_container
log "ok: the image serves the env-defined model and the erring model errs"
