#!/usr/bin/env bash
# Resolves a containerd version for the test bed and, for versions built from source, builds it
# once: containerd, its containerd-shim-runc-v2 and ctr, from the Go module of that exact
# version, cached by version (the cache survives between runs; a cold CI builds each once).
#
#   containerd_build.sh resolve VERSION   print the exact version (1.6 | 1.7.N | 2.N.M)
#   containerd_build.sh bindir VERSION    build if not cached; print the directory holding
#                                         containerd, containerd-shim-runc-v2 and ctr
#
# VERSION: "1.6" (Debian's package: /usr/bin, built by Debian, not here), "1.7" or "2" (the
# pinned newest of that line, below), or an exact "1.7.N" / "2.N.M". The pins keep CI
# reproducible: raise them after checking the suites pass (`go list -m -versions
# github.com/containerd/containerd/v2` lists what the Go module proxy has).
# LCD_CONTAINERD_CACHE (default $HOME/.cache/lcd-containerd) holds VERSION/bin/.
# Messages go to stderr; only the answer goes to stdout.
set -euo pipefail
shopt -s inherit_errexit

PINNED_1_7=1.7.35
PINNED_2=2.4.2
CACHE=${LCD_CONTAINERD_CACHE:-$HOME/.cache/lcd-containerd}

log() { echo "containerd_build: $*" >&2; }
die() { log "$*"; exit 1; }

resolve() {
  case $1 in
    1.6 | 1.6.*) echo 1.6 ;;
    1.7) echo "$PINNED_1_7" ;;
    2 | 2.x) echo "$PINNED_2" ;;
    1.7.[0-9]* | 2.[0-9]*.[0-9]*)
      [[ $1 =~ ^(1\.7\.[0-9]+|2\.[0-9]+\.[0-9]+)$ ]] || die "not a containerd version: $1"
      echo "$1"
      ;;
    *) die "unsupported containerd version '$1': use 1.6, 1.7, 2, or an exact 1.7.N or 2.N.M" ;;
  esac
}

module_of() {
  case $1 in
    1.*) echo github.com/containerd/containerd ;;
    *) echo github.com/containerd/containerd/v2 ;;
  esac
}

build() {
  local version=$1 out=$CACHE/$1
  [[ -x $out/bin/containerd && -x $out/bin/containerd-shim-runc-v2 && -x $out/bin/ctr ]] && return 0
  command -v go >/dev/null || die "go is required to build containerd $version"
  mkdir -p "$CACHE"
  # One build per version at a time (parallel test beds may ask for the same one).
  exec 8>"$CACHE/$version.lock"
  flock -w 1800 8 || die "could not lock $CACHE/$version.lock"
  [[ -x $out/bin/containerd && -x $out/bin/containerd-shim-runc-v2 && -x $out/bin/ctr ]] && return 0
  local module dir work started=$SECONDS
  module=$(module_of "$version")
  log "building containerd $version from $module@v$version (once; cached in $out)"
  dir=$(go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -n $dir && -d $dir ]] || die "go mod download gave no directory for $module@v$version"
  # The module cache is read-only, and `go install pkg@version` refuses a go.mod with exclude
  # directives: build in a writable copy as the main module.
  work=$(mktemp -d "$CACHE/.build-$version.XXXXXX")
  cp -r "$dir"/. "$work/src"
  chmod -R u+w "$work/src"
  (
    cd "$work/src"
    # The version and revision containerd reports (Version RPC, --version), as upstream's
    # release builds set them ("v" + version; the revision is a commit there, the tag here).
    local pkg=$module/version
    GOFLAGS=-buildvcs=false CGO_ENABLED=1 go build -mod=mod -trimpath \
      -tags "no_btrfs no_devmapper no_zfs" \
      -ldflags "-X $pkg.Version=v$version -X $pkg.Revision=v$version" \
      -o "$work/bin/" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr
  ) >&2 || { rm -rf "$work"; die "building containerd $version failed"; }
  rm -rf "$out"
  mkdir -p "$out"
  mv "$work/bin" "$out/bin"
  rm -rf "$work"
  log "built containerd $version in $((SECONDS - started)) s"
}

case "${1:-}" in
  resolve) resolve "${2:?version}" ;;
  bindir)
    version=$(resolve "${2:?version}")
    if [[ $version == 1.6 ]]; then
      [[ -x /usr/bin/containerd ]] || die "/usr/bin/containerd is missing: run tests/setup.sh"
      echo /usr/bin
    else
      build "$version"
      echo "$CACHE/$version/bin"
    fi
    ;;
  *)
    echo "usage: $0 resolve|bindir VERSION" >&2
    exit 2
    ;;
esac
