#!/usr/bin/env bash
# Builds the Go tunnel peers of test/peers/remotedialer (a remotedialer test server and a plain
# remotedialer client) once per rancher/remotedialer version listed in test/env/versions.json, from the
# Go module proxy, into a cache outside the work tree. Prints JSON {version: directory}. Idempotent:
# a finished build is reused (keyed by version and a hash of the peer sources).
#
#   REMOTEDIALER_VERSIONS  space-separated versions     (default: test/env/versions.json .remotedialer)
#   KUBE_BINS_DIR          cache root                   (default: ${XDG_CACHE_HOME:-~/.cache}/clusternet-agent-ts/bins)
#
# The newest remotedialer releases declare a newer `go` than the machine may have; GOTOOLCHAIN=auto lets
# the go command fetch that toolchain (itself a module) for those builds only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/../../peers/remotedialer"
versions="${REMOTEDIALER_VERSIONS:-$(jq -r '.remotedialer | join(" ")' "$here/../versions.json")}"
root="${KUBE_BINS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clusternet-agent-ts/bins}"

log() { printf 'remotedialer-bins: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT

command -v go >/dev/null || die "go is not installed"
command -v jq >/dev/null || die "jq is not installed"
mkdir -p "$root"
exec 9>"$root/.lock-remotedialer"
flock 9

export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=auto
srchash="$(cat "$src/go.mod" "$src"/server/*.go "$src"/client/*.go | sha256sum | cut -c1-12)"
out_json='{}'
for v in $versions; do
  out="$root/remotedialer-$v"
  if [ ! -x "$out/server" ] || [ ! -x "$out/client" ] || [ "$(cat "$out/.source" 2>/dev/null)" != "$srchash" ]; then
    log "building the remotedialer $v test server and client"
    work="$(mktemp -d)"
    tmpdirs+=("$work")
    cp -r "$src/." "$work/"
    (
      cd "$work"
      go mod edit -require="github.com/rancher/remotedialer@$v"
      go mod tidy >/dev/null 2>&1 || go mod tidy
      rm -rf "$out.tmp" && mkdir -p "$out.tmp"
      go build -trimpath -ldflags "-s -w" -o "$out.tmp/" ./server ./client
    ) || die "build of remotedialer $v failed"
    echo "$srchash" >"$out.tmp/.source"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  out_json="$(jq --arg v "$v" --arg d "$out" '. + {($v): $d}' <<<"$out_json")"
done
printf '%s\n' "$out_json"
