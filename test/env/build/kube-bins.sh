#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager (one Kubernetes release) and helm from the
# Go module proxy with the machine's Go toolchain, version-stamped, into a cache outside the work tree.
# Prints the directory holding the binaries. Idempotent: a finished build is reused (keyed by version).
#
#   K8S_VERSION   Kubernetes release to build          (default: pinned in test/env/versions.json)
#   HELM_VERSION  helm v3 release to build              (default: pinned in test/env/versions.json)
#   KUBE_BINS_DIR cache root                            (default: ${XDG_CACHE_HOME:-~/.cache}/clusternet-agent-ts/bins)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
versions="$here/../versions.json"
K8S_VERSION="${K8S_VERSION:-$(jq -r .kubernetes "$versions")}"
HELM_VERSION="${HELM_VERSION:-$(jq -r .helm "$versions")}"
root="${KUBE_BINS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clusternet-agent-ts/bins}"
kube_out="$root/kubernetes-$K8S_VERSION"
helm_out="$root/helm-$HELM_VERSION"

log() { printf 'kube-bins: %s\n' "$*" >&2; }
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed (needed to build kube-apiserver from Go modules)"
command -v jq >/dev/null || die "jq is not installed"
mkdir -p "$root"
avail_kb="$(df -Pk "$root" | awk 'NR==2{print $4}')"
[ "${avail_kb:-0}" -gt $((6 * 1024 * 1024)) ] || [ -x "$kube_out/kube-apiserver" ] ||
  die "less than 6 GiB free under $root; the Kubernetes build needs about 5 GiB of caches"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# One build at a time per cache (test runs and `env:up` may ask at once).
exec 9>"$root/.lock"
flock 9

build_kubernetes() {
  if [ -x "$kube_out/kube-apiserver" ] && [ -x "$kube_out/kube-controller-manager" ] && [ -x "$kube_out/etcd" ]; then
    return 0
  fi
  log "building Kubernetes $K8S_VERSION (etcd, kube-apiserver, kube-controller-manager); first time takes a while"
  local minor staging work info k8s_mod k8s_sha x now
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  staging="v0.${K8S_VERSION#v1.}"
  work="$(mktemp -d)"
  tmpdirs+=("$work")
  (
    cd "$work"
    go mod init kubebins.local >/dev/null 2>&1
    # go mod download -json reports failures as JSON on stdout.
    info="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION")" ||
      die "go mod download k8s.io/kubernetes@$K8S_VERSION: $(jq -r '.Error // .' <<<"$info" 2>/dev/null)"
    k8s_mod="$(jq -r .GoMod <<<"$info")"
    k8s_sha="$(jq -r '.Origin.Hash // empty' <<<"$info")"
    # k8s.io/kubernetes points its staging modules at ./staging/...; pin each to its published tag.
    go mod edit -json "$k8s_mod" |
      jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path' |
      while read -r m; do go mod edit -replace="$m=$m@$staging"; done
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    mkdir -p cmd/kube-apiserver cmd/kube-controller-manager cmd/etcd
    for c in kube-apiserver:NewAPIServerCommand kube-controller-manager:NewControllerManagerCommand; do
      cat >"cmd/${c%%:*}/main.go" <<GO
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/${c%%:*}/app"
)

func main() { os.Exit(cli.Run(app.${c##*:}())) }
GO
    done
    cat >cmd/etcd/main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go mod tidy >/dev/null
    now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    x=""
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      x+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      x+=" -X $p.gitTreeState=clean -X $p.buildDate=$now"
      [ -n "$k8s_sha" ] && x+=" -X $p.gitCommit=$k8s_sha"
    done
    mkdir -p "$kube_out.tmp"
    go build -trimpath -ldflags "-s -w$x" -o "$kube_out.tmp/" ./cmd/...
  )
  "$kube_out.tmp/kube-apiserver" --version | grep -qx "Kubernetes $K8S_VERSION" ||
    die "kube-apiserver does not report $K8S_VERSION"
  rm -rf "$kube_out" && mv "$kube_out.tmp" "$kube_out"
}

build_helm() {
  [ -x "$helm_out/helm" ] && return 0
  log "building helm $HELM_VERSION"
  local work info cgminor
  work="$(mktemp -d)"
  tmpdirs+=("$work")
  info="$(cd "$work" && go mod init helmbins.local >/dev/null 2>&1 && go mod download -json "helm.sh/helm/v3@$HELM_VERSION")" ||
    die "go mod download helm.sh/helm/v3@$HELM_VERSION: $(jq -r '.Error // .' <<<"$info" 2>/dev/null)"
  # helm's default .Capabilities.KubeVersion follows the client-go it is built with (as its Makefile does).
  cgminor="$(go mod edit -json "$(jq -r .GoMod <<<"$info")" |
    jq -r '.Require[] | select(.Path=="k8s.io/client-go") | .Version' | sed -E 's/^v0\.([0-9]+)\..*/\1/')"
  mkdir -p "$helm_out.tmp"
  GOBIN="$helm_out.tmp" go install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$cgminor \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$cgminor" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -rf "$helm_out" && mv "$helm_out.tmp" "$helm_out"
}

build_kubernetes
build_helm
jq -n --arg k "$kube_out" --arg h "$helm_out" '{kubernetes: $k, helm: $h}'
