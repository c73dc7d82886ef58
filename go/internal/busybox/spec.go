// Package busybox loads the busybox runtime spec of every test, example and benchmark,
// tests/fixtures/busybox_spec.json at the checkout's root, and fills its variable fields (see
// tests/common/busybox_spec.rs for the Rust side and capi/examples/busybox_spec.h for C's).
//
// The file is read at run time, found relative to this source file: go:embed cannot reach
// outside the Go module (go/), and the fixture lives with the Rust tests that the C and Go
// sides share it with. A binary built with -trimpath, or moved off its checkout, cannot find it
// and panics saying so.
package busybox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var fixture = sync.OnceValues(func() ([]byte, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("busybox: no source path to find the fixture from")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "tests", "fixtures", "busybox_spec.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("busybox: read the spec fixture: %w", err)
	}
	return b, nil
})

// Spec is the busybox spec running args in the root filesystem rootfs (read-only, so any
// number of containers can share it), on a terminal or not, with the hostname and cgroups path
// given. A new value each call: callers may change it. Panics when the fixture cannot be read
// or lacks one of its markers.
func Spec(rootfs string, args []string, terminal bool, hostname, cgroupsPath string) *specs.Spec {
	b, err := fixture()
	if err != nil {
		panic(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		panic(fmt.Errorf("busybox: decode the spec fixture: %w", err))
	}
	if s.Process == nil || s.Root == nil || s.Linux == nil {
		panic("busybox: the spec fixture has no process, root or linux")
	}
	if !slices.Equal(s.Process.Args, []string{"@ARGS@"}) || s.Process.Terminal || s.Root.Path != "@ROOTFS@" ||
		s.Hostname != "@HOSTNAME@" || s.Linux.CgroupsPath != "@CGROUPS_PATH@" {
		panic("busybox: the spec fixture lacks one of its markers (args, terminal, root path, hostname, cgroups path)")
	}
	s.Process.Args = args
	s.Process.Terminal = terminal
	s.Root.Path = rootfs
	s.Hostname = hostname
	s.Linux.CgroupsPath = cgroupsPath
	return &s
}
