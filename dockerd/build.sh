#!/usr/bin/env bash
# Builds dockerd v24.0.9 from its Go module source, and the docker CLI.
#
#   dockerd/build.sh [lcd|stock|cli|all]     (default: all)
#
# lcd    build/dockerd/bin/dockerd-lcd: moby v24.0.9 with moby-v24.0.9-libcontainerd-ffi.patch, so
#        both of its libcontainerd clients are this project's Go adapter, with the Rust library
#        (target/release/libcontainerd_ffi.a, `make lib`) linked statically.
# stock  build/dockerd/bin/dockerd-stock: the same source and build without the patch.
# cli    build/dockerd/bin/docker: the docker CLI from Debian's docker.io package (only the CLI
#        binary is extracted; nothing is installed or started).
#
# moby v24 has no go.mod: its vendor.mod and vendor.sum serve as go.mod and go.sum. Modules come
# from the Go module proxy into the usual module cache; sources are prepared once per patch
# content and the Go build cache is shared, so a repeated run only relinks.
# Environment: LCD_DOCKERD_BUILD (default build/dockerd in the project).
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
out=${LCD_DOCKERD_BUILD:-$project/build/dockerd}
moby_module=github.com/docker/docker
moby_version=v24.0.9+incompatible
buildkit_version=v0.11.6
# Graph drivers that need C libraries this build does not install; the tests use vfs.
build_tags="exclude_graphdriver_btrfs exclude_graphdriver_devicemapper"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local

log() { echo "build-dockerd: $*" >&2; }

module_dir() { # module@version -> directory in the module cache (downloads when missing)
  go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# Copies a module's source to $2 and applies the patches that follow, once: a stamp records
# the patch content so an edited patch prepares the source again.
prepare_source() {
  local module=$1 dest=$2
  shift 2
  local stamp
  stamp=$(cat "$@" /dev/null | sha256sum | cut -d' ' -f1)
  if [ -f "$dest/.lcd-prepared" ] && [ "$(cat "$dest/.lcd-prepared")" = "$stamp" ]; then
    return
  fi
  local dir
  dir=$(module_dir "$module")
  [ -n "$dir" ] || { log "cannot download $module"; exit 1; }
  rm -rf "$dest" "$dest.tmp"
  mkdir -p "$(dirname "$dest")"
  cp -r "$dir" "$dest.tmp"
  chmod -R u+w "$dest.tmp"
  local patch_file
  for patch_file in "$@"; do
    patch -s -d "$dest.tmp" -p1 <"$patch_file"
  done
  echo "$stamp" >"$dest.tmp/.lcd-prepared"
  mv "$dest.tmp" "$dest"
}

# moby's module source as a main module: vendor.mod/vendor.sum become go.mod/go.sum, the vendor
# directory (only modules.txt in the module zip) goes, and buildkit comes from the patched copy.
prepare_moby() {
  local dest=$1
  shift
  prepare_source "$moby_module@$moby_version" "$dest" "$@"
  [ -f "$dest/go.mod" ] && return
  rm -rf "$dest/vendor"
  cp "$dest/vendor.sum" "$dest/go.sum"
  cp "$dest/vendor.mod" "$dest/go.mod.tmp"
  (cd "$dest" && mv go.mod.tmp go.mod &&
    go mod edit -go=1.21 -replace "github.com/moby/buildkit=$out/src/buildkit")
}

build_dockerd() { # variant directory binary version
  local src=$1 binary=$2 version=$3
  log "building $binary"
  (cd "$src" && CGO_ENABLED=1 go build -tags "$build_tags" \
    -ldflags "-X github.com/docker/docker/dockerversion.Version=$version -X github.com/docker/docker/dockerversion.GitCommit=v24.0.9" \
    -o "$binary.tmp" ./cmd/dockerd)
  mv "$binary.tmp" "$binary"
}

build_stock() {
  prepare_moby "$out/src/moby-stock"
  build_dockerd "$out/src/moby-stock" "$out/bin/dockerd-stock" 24.0.9
}

build_lcd() {
  [ -f "$project/target/release/libcontainerd_ffi.a" ] ||
    (cd "$project" && cargo build --release --locked)
  # Go's build cache does not look inside a library named in #cgo LDFLAGS: the library's digest
  # in the cgo flags makes a rebuilt library relink dockerd.
  export CGO_CFLAGS="-O2 -g -DLCD_FFI_LIB_SHA256=$(sha256sum "$project/target/release/libcontainerd_ffi.a" | cut -c1-16)"
  prepare_moby "$out/src/moby-lcd" "$project/dockerd/moby-v24.0.9-libcontainerd-ffi.patch"
  if ! grep -q "github.com/lcd-ffi/libcontainerd-ffi/go v0.0.0" "$out/src/moby-lcd/go.mod"; then
    (cd "$out/src/moby-lcd" &&
      go mod edit -require github.com/lcd-ffi/libcontainerd-ffi/go@v0.0.0 &&
      cat "$project/go/go.sum" >>go.sum)
  fi
  # Always this checkout's adapter: a build directory copied from another checkout (a git
  # worktree) would otherwise keep building that one's, and link that one's library.
  (cd "$out/src/moby-lcd" && go mod edit -replace "github.com/lcd-ffi/libcontainerd-ffi/go=$project/go")
  build_dockerd "$out/src/moby-lcd" "$out/bin/dockerd-lcd" 24.0.9-lcd
}

build_cli() {
  [ -x "$out/bin/docker" ] && return
  log "extracting the docker CLI from Debian's docker.io package"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q docker.io >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get download -q docker.io >/dev/null
  })
  dpkg-deb -x "$tmp"/docker.io_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/docker" "$out/bin/docker"
  rm -rf "$tmp"
}

mkdir -p "$out/bin" "$out/src"
prepare_source "github.com/moby/buildkit@$buildkit_version" "$out/src/buildkit" \
  "$project/dockerd/buildkit-v0.11.6-image-spec-rc3.patch"
case "${1:-all}" in
  lcd) build_lcd ;;
  stock) build_stock ;;
  cli) build_cli ;;
  all) build_lcd && build_stock && build_cli ;;
  *)
    echo "usage: $0 [lcd|stock|cli|all]" >&2
    exit 2
    ;;
esac
