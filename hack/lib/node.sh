# Sourced by hack/ scripts: installs the npm dependencies when missing or stale
# and puts the project's Node 24 (the `node` devDependency) first on PATH,
# whatever node the machine has.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ ! -x "$root/node_modules/.bin/node" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "[setup] installing npm dependencies (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
export PATH="$root/node_modules/.bin:$PATH"
