#!/usr/bin/env bash
# Builds dockerd (v24, v27, v28 or v29) from its Go module source, lcd and stock, and the docker CLI.
#
#   LCD_DOCKERD_VERSION=24|27|28|29 dockerd/build.sh [lcd|stock|cli|all|has-adapter|moby-module]
#
# (defaults: 24, all; all builds lcd only when this checkout has the version's adapter, and
# has-adapter answers that with its exit status; moby-module prints the version's moby
# module@version, which go/moby29/typecheck.sh also uses, so both build the same v29).
# lcd    build/dockerd/bin/dockerd-VERSION-lcd: moby with dockerd/moby-MOBYVERSION-libcontainerd-ffi.patch,
#        so both of its libcontainerd clients are this project's Go adapter, with the Rust
#        library (target/release/libcontainerd_ffi.a, `make lib`) linked statically.
# stock  build/dockerd/bin/dockerd-VERSION-stock: the same source and build without the patch.
# cli    build/dockerd/bin/docker: the docker CLI v29.8.2 built from github.com/docker/cli's Go
#        module source; it negotiates the API version down to each daemon's (1.43 for v24).
#
#   VERSION  moby module                                 its lcd adapter (this repository)
#   24       github.com/docker/docker@v24.0.9+incompatible  go/libcontainerd (package libcontainerd)
#   27       github.com/docker/docker@v27.5.1+incompatible  go/moby27 (module .../go/moby27)
#   28       github.com/docker/docker@v28.5.2+incompatible  go/moby28 (module .../go/moby28)
#   29       github.com/moby/moby/v2@v2.0.0-beta.24         go/moby29: package lcdffi, copied into
#            moby's tree at daemon/internal/libcontainerd/lcdffi (that package is internal there)
#
# v29 is beta.24, not the newest beta.25: beta.25 requires versions of buildkit, swarmkit,
# moby/extensions, moby/policy-helpers and moby/profiles that the Go module proxy does not serve
# (403); its daemon/internal/libcontainerd is the same as beta.24's.
#
# moby v24-v28 have no go.mod: their vendor.mod and vendor.sum serve as go.mod and go.sum; moby/v2
# has a go.mod. Modules come from the Go module proxy into the usual module cache; sources are
# prepared once per patch content and the Go build cache is shared, so a repeated run only relinks.
# Environment: LCD_DOCKERD_VERSION (default 24), LCD_DOCKERD_BUILD (default build/dockerd in the
# project).
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
out=${LCD_DOCKERD_BUILD:-$project/build/dockerd}
dockerd_version=${LCD_DOCKERD_VERSION:-24}
case $dockerd_version in
  24) moby_module=github.com/docker/docker moby_version=v24.0.9+incompatible ;;
  27) moby_module=github.com/docker/docker moby_version=v27.5.1+incompatible ;;
  28) moby_module=github.com/docker/docker moby_version=v28.5.2+incompatible ;;
  29) moby_module=github.com/moby/moby/v2 moby_version=v2.0.0-beta.24 ;;
  *)
    echo "LCD_DOCKERD_VERSION must be 24, 27, 28 or 29, not '$dockerd_version'" >&2
    exit 2
    ;;
esac
moby_tag=${moby_version%+incompatible}
lcd_patch=$project/dockerd/moby-$moby_tag-libcontainerd-ffi.patch
buildkit_version=v0.11.6
cli_version=v29.8.2
# Graph drivers that need C libraries this build does not install; the tests use vfs.
build_tags="exclude_graphdriver_btrfs exclude_graphdriver_devicemapper"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local

log() { echo "build-dockerd: $*" >&2; }

module_dir() { # module@version -> directory in the module cache (downloads when missing)
  go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# Copies a module's source to $2 and applies the patches that follow, once: a stamp records
# the module version and patch content so another version or an edited patch prepares it again.
prepare_source() {
  local module=$1 dest=$2
  shift 2
  local stamp
  stamp=$( (echo "$module" && cat "$@" /dev/null) | sha256sum | cut -d' ' -f1)
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

# Where a variant's source is prepared (v24's keeps its historical name: the Go build cache
# keys on the directory, so a renamed one would rebuild all of moby).
source_dir() { # variant
  if [ "$dockerd_version" = 24 ]; then echo "$out/src/moby-$1"; else echo "$out/src/moby$dockerd_version-$1"; fi
}

# moby's module source as a main module. v24-v28: vendor.mod/vendor.sum become go.mod/go.sum and
# the vendor directory (only modules.txt in the module zip) goes; v24 takes buildkit from the
# patched copy. moby/v2 (v29) has its own go.mod.
prepare_moby() {
  local dest=$1
  shift
  prepare_source "$moby_module@$moby_version" "$dest" "$@"
  [ -f "$dest/go.mod" ] && return
  rm -rf "$dest/vendor"
  cp "$dest/vendor.sum" "$dest/go.sum"
  cp "$dest/vendor.mod" "$dest/go.mod.tmp"
  (cd "$dest" && mv go.mod.tmp go.mod)
  if [ "$dockerd_version" = 24 ]; then
    (cd "$dest" && go mod edit -go=1.21 -replace "github.com/moby/buildkit=$out/src/buildkit")
  fi
}

build_dockerd() { # source-directory binary version
  local src=$1 binary=$2 version=$3 version_pkg=github.com/docker/docker/dockerversion
  [ "$dockerd_version" = 29 ] && version_pkg=github.com/moby/moby/v2/dockerversion
  log "building $binary ($moby_module@$moby_version)"
  # -trimpath for v27 on: the build cache then shares moby's own packages between the lcd and
  # stock source directories (v24 keeps its build, which warm caches hold).
  local trimpath=-trimpath
  [ "$dockerd_version" = 24 ] && trimpath=
  (cd "$src" && CGO_ENABLED=1 go build $trimpath -tags "$build_tags" \
    -ldflags "-X $version_pkg.Version=$version -X $version_pkg.GitCommit=$moby_tag" \
    -o "$binary.tmp" ./cmd/dockerd)
  mv "$binary.tmp" "$binary"
}

build_stock() {
  prepare_moby "$(source_dir stock)"
  build_dockerd "$(source_dir stock)" "$out/bin/dockerd-$dockerd_version-stock" "${moby_tag#v}"
}

# The moby tree requires the adapter's module(s) at v0.0.0, replaced by this checkout's go/ (a
# build directory copied from another checkout, a git worktree, would otherwise keep building
# that one's adapter and link that one's library); their go.sum lines join moby's.
require_local_module() { # moby-source module directory
  local src=$1 module=$2 dir=$3
  [ -f "$dir/go.mod" ] || {
    log "$dir/go.mod is missing: the adapter for dockerd v$dockerd_version is not in this checkout"
    exit 1
  }
  if ! grep -q "^[[:space:]]*require $module v0.0.0\|^[[:space:]]$module v0.0.0" "$src/go.mod"; then
    (cd "$src" && go mod edit -require "$module@v0.0.0")
    [ ! -f "$dir/go.sum" ] || cat "$dir/go.sum" >>"$src/go.sum"
  fi
  (cd "$src" && go mod edit -replace "$module=$dir")
}

# Whether this checkout has the lcd adapter the version's patch imports (see the table above).
has_adapter() {
  case $dockerd_version in
    24) [ -f "$project/go/libcontainerd/client.go" ] ;;
    27 | 28) [ -f "$project/go/moby$dockerd_version/go.mod" ] ;;
    29) compgen -G "$project/go/moby29/*.go" >/dev/null ;;
  esac
}

build_lcd() {
  [ -f "$project/target/release/libcontainerd_ffi.a" ] ||
    (cd "$project" && cargo build --release --locked)
  # Go's build cache does not look inside a library named in #cgo LDFLAGS: the library's digest
  # in the cgo flags makes a rebuilt library relink dockerd.
  export CGO_CFLAGS="-O2 -g -DLCD_FFI_LIB_SHA256=$(sha256sum "$project/target/release/libcontainerd_ffi.a" | cut -c1-16)"
  local src core=github.com/lcd-ffi/libcontainerd-ffi/go
  src=$(source_dir lcd)
  prepare_moby "$src" "$lcd_patch"
  case $dockerd_version in
    24) require_local_module "$src" "$core" "$project/go" ;;
    27 | 28)
      require_local_module "$src" "$core" "$project/go"
      require_local_module "$src" "$core/moby$dockerd_version" "$project/go/moby$dockerd_version"
      ;;
    29)
      ls "$project"/go/moby29/*.go >/dev/null 2>&1 || {
        log "go/moby29/ has no Go files: the adapter for dockerd v29 is not in this checkout"
        exit 1
      }
      # Only the package's sources (tests need moby's test tree): a fresh copy, so a file
      # removed from go/moby29 goes here too.
      local adapter=$src/daemon/internal/libcontainerd/lcdffi
      rm -rf "$adapter" && mkdir -p "$adapter"
      find "$project/go/moby29" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$adapter/" \;
      require_local_module "$src" "$core" "$project/go"
      ;;
  esac
  build_dockerd "$src" "$out/bin/dockerd-$dockerd_version-lcd" "${moby_tag#v}-lcd"
}

# The docker CLI from github.com/docker/cli's module source (vendor.mod as go.mod, as moby's);
# one CLI for every dockerd version: its client negotiates the API version down to the daemon's
# (it takes 1.40 and up). v29.8.2, not a newer v29: from v29.9.0 on the CLI requires
# github.com/moby/swarmkit/v2 v2.1.3, which the Go module proxy does not serve.
build_cli() {
  [ -x "$out/bin/docker" ] && [ "$(cat "$out/bin/docker.version" 2>/dev/null)" = "$cli_version" ] && return
  local src=$out/src/docker-cli
  prepare_source "github.com/docker/cli@$cli_version+incompatible" "$src"
  if [ ! -f "$src/go.mod" ]; then
    rm -rf "$src/vendor"
    cp "$src/vendor.sum" "$src/go.sum"
    cp "$src/vendor.mod" "$src/go.mod"
  fi
  log "building the docker CLI $cli_version"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X github.com/docker/cli/cli/version.Version=${cli_version#v} -X github.com/docker/cli/cli/version.GitCommit=$cli_version" \
    -o "$out/bin/docker.tmp" ./cmd/docker)
  mv "$out/bin/docker.tmp" "$out/bin/docker"
  echo "$cli_version" >"$out/bin/docker.version"
}

# All in a function, read whole before it runs: editing this file during a build cannot change
# what the running build does.
main() {
  case "${1:-all}" in
    has-adapter) has_adapter; return ;;
    moby-module) echo "$moby_module@$moby_version"; return ;;
  esac
  mkdir -p "$out/bin" "$out/src"
  if [ "$dockerd_version" = 24 ]; then
    prepare_source "github.com/moby/buildkit@$buildkit_version" "$out/src/buildkit" \
      "$project/dockerd/buildkit-v0.11.6-image-spec-rc3.patch"
  fi
  case "${1:-all}" in
    lcd) build_lcd ;;
    stock) build_stock ;;
    cli) build_cli ;;
    all)
      if has_adapter; then
        build_lcd
      else
        log "no lcd build of dockerd v$dockerd_version: its adapter is not in this checkout"
      fi
      build_stock
      build_cli
      ;;
    *)
      echo "usage: LCD_DOCKERD_VERSION=24|27|28|29 $0 [lcd|stock|cli|all|has-adapter|moby-module]" >&2
      exit 2
      ;;
  esac
}

main "$@"
exit
