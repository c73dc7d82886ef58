#!/usr/bin/env bash
# Type-checks package lcdffi where it has to live, inside moby v29's tree: copies moby/moby/v2's
# module source (from the Go module cache, downloaded when missing) to a scratch directory,
# puts this directory's Go files at daemon/internal/libcontainerd/lcdffi, points the module at
# this checkout's go/ module and runs go vet and go build on the package (its compile-time
# assertions check it against v29's real libcontainerd/types). With --test it also runs the
# package's tests there: the shared differential scenarios against v29's own remote client,
# on the test bed named by LCD_CONTAINERD_SOCKET, LCD_TEST_ROOTFS and LCD_CONTAINERD_METRICS.
#
#   go/moby29/typecheck.sh [--test]     (MOBY_V2_VERSION, LCD_MOBY29_SCRATCH to override)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
core=$(cd "$here/.." && pwd)
# The moby/moby/v2 version dockerd/build.sh builds dockerd v29 from (one version for both; see
# there why it is not the newest beta on the proxy).
module_version=$(LCD_DOCKERD_VERSION=29 bash "$core/../dockerd/build.sh" moby-module)
version=${MOBY_V2_VERSION:-${module_version#github.com/moby/moby/v2@}}
# One scratch copy per checkout: parallel checkouts do not overwrite each other's package.
scratch=${LCD_MOBY29_SCRATCH:-${TMPDIR:-/tmp}/lcd-moby29-typecheck-$(echo "$core" | sha256sum | cut -c1-12)}
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local

src=$(cd "$core" && go mod download -json "github.com/moby/moby/v2@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || { echo "typecheck: cannot download github.com/moby/moby/v2@$version" >&2; exit 1; }
if [ ! -f "$scratch/.lcd-source" ] || [ "$(cat "$scratch/.lcd-source")" != "$src" ]; then
  rm -rf "$scratch"
  mkdir -p "$(dirname "$scratch")"
  cp -r "$src" "$scratch"
  chmod -R u+w "$scratch"
  echo "$src" >"$scratch/.lcd-source"
fi
pkg=$scratch/daemon/internal/libcontainerd/lcdffi
rm -rf "$pkg"
mkdir -p "$pkg"
cp "$here"/*.go "$pkg/"
cd "$scratch"
if ! grep -q 'github.com/lcd-ffi/libcontainerd-ffi/go v0.0.0' go.mod; then
  go mod edit -require github.com/lcd-ffi/libcontainerd-ffi/go@v0.0.0
  cat "$core/go.sum" >>go.sum
fi
go mod edit -replace "github.com/lcd-ffi/libcontainerd-ffi/go=$core"
go vet ./daemon/internal/libcontainerd/lcdffi
go build ./daemon/internal/libcontainerd/lcdffi
echo "typecheck: package lcdffi builds and vets inside github.com/moby/moby/v2@$version"
if [ "${1:-}" = --test ]; then
  go test -count=1 ./daemon/internal/libcontainerd/lcdffi
fi
