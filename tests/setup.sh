#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, when missing (Debian, as root).
set -euo pipefail

declare -A package_of=(
  [containerd]=containerd
  [runc]=runc
  [protoc]=protobuf-compiler
  [valgrind]=valgrind
  [pkg-config]=pkg-config
  [cc]=gcc
  [make]=make
  [ctr]=containerd
)
missing=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
# The test root filesystem needs the statically linked busybox.
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  missing+=(busybox-static file)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >&2
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required and not installed" >&2; exit 1; }
