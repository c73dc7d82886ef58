// Package mobytest (test helpers, not for production use) holds what the tests of every moby version's adapter share: the test bed's
// addresses, a runtime spec, containerd's RPC counters, an event recorder, an output capture,
// and the differential scenarios, written once against a small moby-independent view of a
// libcontainerd client (Client) that each version's tests implement over its own types.
package mobytest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/internal/busybox"
)

// TestBed is the test bed's containerd socket and busybox root filesystem.
func TestBed(t *testing.T) (socket, rootfs string) {
	t.Helper()
	socket, rootfs = os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	if socket == "" || rootfs == "" {
		t.Fatal("LCD_CONTAINERD_SOCKET and LCD_TEST_ROOTFS must name the test bed: run `make test-go`")
	}
	return socket, rootfs
}

// OCISpec is the busybox spec of every test (tests/fixtures/busybox_spec.json) running args in
// the busybox root filesystem, with id as hostname and a cgroup of its own.
func OCISpec(rootfs, id string, args ...string) *specs.Spec {
	return busybox.Spec(rootfs, args, false, id, fmt.Sprintf("/lcd-test/moby-%d-%s", os.Getpid(), id))
}

// RPCCounts reads grpc_server_handled_total by method from containerd's metrics endpoint.
func RPCCounts(t *testing.T) map[string]int {
	t.Helper()
	addr := os.Getenv("LCD_CONTAINERD_METRICS")
	if addr == "" {
		t.Fatal("LCD_CONTAINERD_METRICS must name the test bed's metrics address: run `make test-go`")
	}
	resp, err := http.Get("http://" + addr + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := regexp.MustCompile(`^grpc_server_handled_total\{.*grpc_method="([^"]+)".*grpc_service="([^"]+)".*\} (\d+)`)
	counts := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[3])
			service := m[2][strings.LastIndex(m[2], ".")+1:]
			counts[service+"/"+m[1]] += n
		}
	}
	return counts
}

// Delta is what grew from before to after.
func Delta(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

// Total is the sum of the counts.
func Total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// BundleFiles are the names in a bundle directory, sorted.
func BundleFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
