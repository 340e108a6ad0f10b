# Builds of Go programs from their modules (hack/argo-rollouts.sh,
# hack/argocd.sh). Such a module's go.mod may require k8s.io/kubernetes, whose
# own go.mod points its staging modules (k8s.io/api v0.0.0 ...) at local
# paths; a wrapper module that requires it and copies its replace lines
# resolves them to released versions.

# go_module_download MODULE VERSION: sets module_src (the unpacked source
# tree, read-only) and module_gomod (its go.mod).
go_module_download() {
  local info
  info=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$1@$2" |
    sed -n 's/^[[:space:]]*"\(Dir\|GoMod\)": "\(.*\)",\{0,1\}$/\1 \2/p')
  module_src=$(awk '$1 == "Dir" { print $2 }' <<<"$info")
  module_gomod=$(awk '$1 == "GoMod" { print $2 }' <<<"$info")
}

# go_wrapper_module DIR NAME GO_VERSION MODULE VERSION GOMOD: writes DIR/go.mod
# (once) requiring MODULE@VERSION with GOMOD's replace lines, both the block
# form `replace ( ... )` and single `replace a => b` lines.
go_wrapper_module() {
  local dir=$1 name=$2 go=$3 module=$4 version=$5 gomod=$6
  mkdir -p "$dir"
  [ -f "$dir/go.mod" ] && return 0
  {
    printf 'module %s\ngo %s\nrequire %s %s\n' "$name" "$go" "$module" "$version"
    awk '/^replace \(/ { inblock = 1; print; next }
         inblock { print; if ($0 ~ /^\)/) inblock = 0; next }
         /^replace / { print }' "$gomod"
  } >"$dir/go.mod.tmp"
  mv "$dir/go.mod.tmp" "$dir/go.mod"
}
