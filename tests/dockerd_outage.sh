#!/usr/bin/env bash
# An exit during a containerd outage longer than the shim's retries (issue 21 item 3), through
# dockerd: `docker run -d` a container that exits 7 after 3 s, stop containerd for 25 s (the
# shim retries its exit event for ~15 s, then drops it), start it again; then `docker wait`
# must return 7 within 30 s and `docker ps -a` show the container exited (7).
#
#   bash tests/testbed.sh run -- bash tests/dockerd_outage.sh lcd|stock
#
# Stock dockerd v24.0.9 is expected to fail (moby's client loses the exit); dockerd-lcd must
# pass. Exits 0 when every check passed. Uses LCD_E2E_DIR (default /tmp/lcd-dockerd-outage-VARIANT).
set -uo pipefail

variant=${1:?usage: $0 lcd|stock}
project=$(cd "$(dirname "$0")/.." && pwd)
bin=${LCD_DOCKERD_BUILD:-$project/build/dockerd}/bin
dockerd_bin=$bin/dockerd-${LCD_DOCKERD_VERSION:-24}-$variant
docker_bin=$bin/docker
dir=${LCD_E2E_DIR:-/tmp/lcd-dockerd-outage-$variant}
socket=${LCD_CONTAINERD_SOCKET:?LCD_CONTAINERD_SOCKET is not set (run under tests/testbed.sh run --)}
rootfs=${LCD_TEST_ROOTFS:?LCD_TEST_ROOTFS is not set}
image=busybox:lcd-e2e
outage=${LCD_OUTAGE_SECS:-25}
export DOCKER_HOST=unix://$dir/docker.sock

failed=0
check() { # description expected actual
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; failed=1; fi
}
out() { "$docker_bin" "$@" 2>/dev/null; }

rm -rf "$dir" && mkdir -p "$dir"
echo '{}' >"$dir/daemon.json"
"$dockerd_bin" --containerd="$socket" --data-root="$dir/data" --exec-root="$dir/exec" \
  --pidfile="$dir/docker.pid" -H "$DOCKER_HOST" --config-file="$dir/daemon.json" \
  --iptables=false --ip6tables=false --ip-masq=false --bridge=none --userland-proxy=false \
  --storage-driver=vfs --live-restore >>"$dir/dockerd.log" 2>&1 &
dockerd_pid=$!
stop_dockerd() {
  out rm -f outage >/dev/null
  kill -TERM "$dockerd_pid" 2>/dev/null
  wait "$dockerd_pid" 2>/dev/null
}
trap stop_dockerd EXIT
for _ in $(seq 1 300); do
  "$docker_bin" version >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 30 "$dir/dockerd.log"; exit 1; }
  sleep 0.1
done
python3 "$project/dockerd/busybox_image.py" "$rootfs" "$dir/busybox.tar" "$image"
out load -i "$dir/busybox.tar" >/dev/null || { echo "docker load failed"; exit 1; }

out run -d --name outage "$image" sh -c 'sleep 3; exit 7' >/dev/null || { echo "docker run failed"; exit 1; }
bash "$project/tests/testbed.sh" down
sleep "$outage"
bash "$project/tests/testbed.sh" up
code=$(timeout 30 "$docker_bin" wait outage 2>&1) || code="no answer within 30 s ($code)"
check "docker wait after a ${outage} s outage" 7 "$code"
check "docker ps -a after the outage" "Exited (7)" "$(out ps -a --filter name=outage --format '{{.Status}}' | cut -d' ' -f1,2)"
check "docker inspect exit code" 7 "$(out inspect -f '{{.State.ExitCode}}' outage)"
exit $failed
