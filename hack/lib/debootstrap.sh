# Sourced by hack/ scripts that build a Debian root filesystem for a local
# image (no base image can be pulled here).
#   debootstrap_rootfs DIR LOG [--include=PKGS]
# makes a bookworm minbase in DIR (via DIR.tmp, so an interrupted run starts
# over) from the host's own configured Debian mirror: no mirror is written in
# the project.
debootstrap_rootfs() {
  local dir=$1 logfile=$2; shift 2
  command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends debootstrap >&2; }
  local mirror
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir.tmp"
  debootstrap --variant=minbase "$@" bookworm "$dir.tmp" "$mirror" >"$logfile" 2>&1
}
