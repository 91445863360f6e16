#!/usr/bin/env bash
# Builds the agent's image from docker/Dockerfile with podman, as CI does (docs/image.md). This machine
# pulls from no image registry, so the Dockerfile's bases are made here from the machine's own Debian 12
# files and imported with `podman import`:
#   build base    glibc, libstdc++, dash, coreutils, the CA bundle, Node.js from the `node` devDependency
#                 (the binary the tests run on) and the machine's npm
#   runtime base  glibc, libstdc++ and libgcc_s (what node links), the CA bundle, /tmp; no shell
#   helm          the helm binary test/env/build/kube-bins.sh built (HELM_STAGE)
# Each base is tagged by a key over its content and reused while the key holds; the image carries the
# key of everything it was built from (label org.clusternet-agent.build-key) and is rebuilt only when
# that changes. Prints the image reference.
#
#   image.sh           build what is missing or stale (needs the package registry for a cold build)
#   image.sh --check   print the reference when the image is current, else exit 1 (no build, no network)
#
#   IMAGE         reference to build           (default: localhost/clusternet-agent-ts:v<package.json version>)
#   IMAGE_CACHE   where the base tarballs go   (default: ${XDG_CACHE_HOME:-~/.cache}/clusternet-agent-ts/image)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cd "$repo"
mode="${1:-build}"
version="v$(jq -r .version package.json)"
image="${IMAGE:-localhost/clusternet-agent-ts:$version}"
cache="${IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clusternet-agent-ts/image}"
# This machine's podman: runc (crun 1.8 refuses the hybrid cgroup layout) and limits it may not raise.
podman_opts=(--runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

log() { printf 'image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT

for c in podman jq dpkg-query sha256sum tar; do command -v "$c" >/dev/null || die "$c is not installed"; done
node_bin="$repo/node_modules/node/bin/node"
[ -x "$node_bin" ] || die "$node_bin is missing: run npm ci first"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

hash() { sha256sum | cut -c1-16; }
# Installed files of Debian packages (docs left out), as paths relative to / with directories resolved
# (this Debian merges /lib into /usr/lib).
pkg_files() {
  dpkg-query -L "$@" | while read -r f; do
    { [ -f "$f" ] || [ -L "$f" ]; } || continue
    case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/share/info/* | /usr/share/lintian/* | /usr/share/locale/* | /usr/share/gdb/* | /usr/share/gcc/*) continue ;; esac
    d="$(readlink -f "$(dirname "$f")")"
    printf '%s/%s\n' "${d#/}" "$(basename "$f")"
  done
}
# A root filesystem with these packages' files and the CA bundle, merged-/usr like Debian 12.
lay_rootfs() {
  local dir="$1"; shift
  mkdir -p "$dir"/usr/{bin,sbin,lib,lib64} "$dir"/etc/ssl/certs "$dir"/root
  install -d -m 1777 "$dir/tmp"
  for l in bin sbin lib lib64; do ln -sfn "usr/$l" "$dir/$l"; done
  { pkg_files "$@"; echo usr/lib64/ld-linux-x86-64.so.2; } | sort -u | grep -vxE 'bin|sbin|lib|lib64' >"$dir.list"
  tar -C / --no-recursion -T "$dir.list" -cf - 2>/dev/null | tar -C "$dir" -xf -
  rm "$dir.list"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}
# Makes the image `ref` from the cached tarball, first laying it out with `lay` when it is not cached;
# further args are `podman import` options (--change).
import_base() {
  local ref="$1" tarball="$2" lay="$3" work
  shift 3
  if [ ! -f "$tarball" ]; then
    log "making ${ref%%:*}"
    work="$(mktemp -d)"
    tmpdirs+=("$work")
    "$lay" "$work/rootfs"
    rm -f "${tarball%-*}"-*.tar
    tar -C "$work/rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
  fi
  podman import "$@" "$tarball" "$ref" >/dev/null
}
# The image ID of base `name` at `key`, made by import_base (remaining args) unless it exists already.
ensure_base() {
  local name="$1" key="$2" ref
  shift 2
  ref="localhost/cnat-$name:$key"
  if ! podman image exists "$ref"; then
    [ "$mode" = build ] || return 1
    # Bases of earlier keys go (one still used by an image stays).
    podman images --format '{{.Repository}}:{{.Tag}}' "localhost/cnat-$name" | xargs -r podman rmi >/dev/null 2>&1 || true
    import_base "$ref" "$cache/$name-$key.tar" "$@"
  fi
  podman image inspect --format '{{.Id}}' "$ref"
}

runtime_pkgs=(libc6 libgcc-s1 libstdc++6)
build_pkgs=(libc6 libgcc-s1 libstdc++6 dash coreutils libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10)
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package directory (from $(command -v npm))"
self_sum="$(hash <"${BASH_SOURCE[0]}")"
ca_sum="$(hash </etc/ssl/certs/ca-certificates.crt)"

lay_runtime() { lay_rootfs "$1" "${runtime_pkgs[@]}"; }
lay_build() {
  lay_rootfs "$1" "${build_pkgs[@]}"
  ln -sfn dash "$1/usr/bin/sh"
  mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules"
  cp "$node_bin" "$1/usr/local/bin/node"
  cp -a "$npm_dir" "$1/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"
}
lay_helm() {
  mkdir -p "$1/out"
  cp "$helm_bin" "$1/out/helm"
}

runtime_key="$( { echo "$self_sum $ca_sum"; dpkg-query -W "${runtime_pkgs[@]}"; } | hash)"
build_key="$( { echo "$self_sum $ca_sum"; dpkg-query -W "${build_pkgs[@]}"; hash <"$node_bin"; jq -r .version "$npm_dir/package.json"; } | hash)"
if [ "$mode" = build ]; then
  helm_bin="$(bash "$here/kube-bins.sh" | jq -r .helm)/helm"
else
  helm_bin="${KUBE_BINS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clusternet-agent-ts/bins}/helm-$(jq -r .helm "$here/../versions.json")/helm"
fi
[ -x "$helm_bin" ] || die "$helm_bin is missing (test/env/build/kube-bins.sh builds it)"
helm_key="$(hash <"$helm_bin")"

fail_check() { log "$image is missing or stale: run npm run setup (or bash test/env/build/image.sh)"; exit 1; }
runtime_id="$(ensure_base runtime-base "$runtime_key" lay_runtime \
  --change 'ENV PATH=/usr/local/bin:/usr/bin' --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt')" || fail_check
# The machine's CA bundle is what it trusts for the package registry; node reads it through NODE_EXTRA_CA_CERTS.
build_id="$(ensure_base build-base "$build_key" lay_build \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV HOME=/root' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')" || fail_check
helm_id="$(ensure_base helm "$helm_key" lay_helm)" || fail_check

# The stamps: the commit, whether the context differs from it, and the commit's date as the build date
# (the same source builds the same image; docs/image.md).
context=(docker/Dockerfile docker/Dockerfile.dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src machines)
commit="" tree_state="" epoch=0
if git rev-parse --git-dir >/dev/null 2>&1; then
  commit="$(git rev-parse HEAD)"
  epoch="$(git log -1 --format=%ct)"
  if [ -z "$(git status --porcelain -- "${context[@]}")" ]; then tree_state=clean; else tree_state=dirty; fi
fi
build_date="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
context_sum="$(find "${context[@]}" -type f -print0 | sort -z | xargs -0 sha256sum | hash)"
key="$(echo "$context_sum $runtime_id $build_id $helm_id $commit $tree_state $build_date" | hash)"

if [ "$(podman image inspect --format '{{index .Labels "org.clusternet-agent.build-key"}}' "$image" 2>/dev/null)" = "$key" ]; then
  echo "$image"
  exit 0
fi
[ "$mode" = build ] || fail_check

log "building $image ($tree_state $commit)"
previous="$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
start=$SECONDS
# --network host: the build's npm ci reaches the package registry as the machine does.
podman build "${podman_opts[@]}" "${limits[@]}" --network host --timestamp "$epoch" \
  -f docker/Dockerfile --ignorefile docker/Dockerfile.dockerignore \
  --build-arg BUILD_IMAGE="localhost/cnat-build-base:$build_key" \
  --build-arg RUNTIME_IMAGE="localhost/cnat-runtime-base:$runtime_key" \
  --build-arg HELM_STAGE="localhost/cnat-helm:$helm_key" --build-arg HELM_VERSION="$(jq -r .helm "$here/../versions.json")" \
  --build-arg VERSION="$version" --build-arg GIT_COMMIT="$commit" --build-arg GIT_TREE_STATE="$tree_state" \
  --build-arg BUILD_DATE="$build_date" \
  --label "org.clusternet-agent.build-key=$key" \
  -t "$image" . >&2
log "built $image in $((SECONDS - start)) s"
# The image it replaces goes (its layers shared with the new one, and the build cache, stay).
[ -z "$previous" ] || podman rmi "$previous" >/dev/null 2>&1 || true
echo "$image"
