#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, when it is missing (Debian, as root):
# containerd 1.6 (with ctr; 1.7 and 2.x are built by tests/containerd_build.sh), runc, a
# statically linked busybox, protoc, valgrind, iproute2, pkg-config, a C compiler and make, and
# for the dockerd build and its end-to-end test, patch
# and python3. Idempotent: with everything present it changes nothing
# and runs no apt-get at all. Never reads stdin.
set -euo pipefail

# The packages to install when anything is missing; apt-get skips those already installed.
PACKAGES=(containerd runc busybox-static protobuf-compiler valgrind iproute2 pkg-config gcc make patch python3)

log() { echo "setup: $*" >&2; }

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1"); }
need containerd
need ctr
need runc
need protoc
need valgrind
need ip
need pkg-config
need cc
need make
need patch
need python3
# The test root filesystem copies /bin/busybox, which must be the static one (busybox-static).
# ldd (libc-bin, always installed) says "not a dynamic executable" (or "statically linked" for
# a static PIE); it exits non-zero for those, hence the capture.
busybox_ldd=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
if [[ ! -x /bin/busybox ]] || ! grep -Eq 'not a dynamic executable|statically linked' <<<"$busybox_ldd"; then
  missing+=("static /bin/busybox")
fi
# protoc needs the well-known types (google/protobuf/*.proto) that containerd's protos import;
# Debian ships them in libprotobuf-dev, a recommendation of protobuf-compiler.
if [[ ! -f /usr/include/google/protobuf/empty.proto ]]; then
  missing+=("google/protobuf/*.proto")
  PACKAGES+=(libprotobuf-dev)
fi

if ((${#missing[@]})); then
  if ((EUID != 0)); then
    log "missing: ${missing[*]}; run this script as root to install ${PACKAGES[*]}"
    exit 1
  fi
  log "missing: ${missing[*]}; installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q </dev/null >&2
  apt-get install -y -q "${PACKAGES[@]}" </dev/null >&2
  # Installing busybox-static replaces the dynamic busybox package if that was there.
  busybox_ldd=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
  if [[ ! -x /bin/busybox ]] || ! grep -Eq 'not a dynamic executable|statically linked' <<<"$busybox_ldd"; then
    log "/bin/busybox is still not statically linked"
    exit 1
  fi
else
  log "all tools present"
fi

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { log "cargo (Rust) is required and not installed"; exit 1; }
# containerd 1.7 and 2.x (the test bed's default) are built from their Go module source; only
# Debian's 1.6 comes from apt.
if [[ ${LCD_CONTAINERD_VERSION:-2} != 1.6* ]] && ! command -v go >/dev/null; then
  log "go is required to build containerd ${LCD_CONTAINERD_VERSION:-2} (or set LCD_CONTAINERD_VERSION=1.6)"
  exit 1
fi
