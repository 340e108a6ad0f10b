# Sourced by hack/ scripts: the project's build cache, outside the repo so a
# fresh clone reuses it; everything inside is keyed by version. MODELOPS_CACHE
# points it elsewhere (CI points it at an empty directory to prove a cold start).
cache=${MODELOPS_CACHE:-$HOME/.cache/modelops-operator}
