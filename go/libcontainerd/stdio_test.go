package libcontainerd

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// Short execs keep all their output while the Go scheduler is saturated: the output FIFOs'
// read ends must not depend on a goroutine getting to run before the exec has exited (a
// stream was lost whole about one exec in ten on a loaded machine).
func TestShortExecsKeepTheirOutputWhileTheSchedulerIsBusy(t *testing.T) {
	ctx := context.Background()
	c, b, rootfs := testClient(t, "busy")
	ctr, task := startSleeper(t, c, rootfs, "busy")
	t.Cleanup(func() {
		_ = task.Kill(ctx, 9)
		b.waitFor(t, "busy", libcontainerdtypes.EventExit, "busy")
		_, _ = task.Delete(ctx)
		_ = ctr.Delete(ctx)
	})

	// Goroutines that never block keep every processor busy, so any other goroutine waits
	// for a time slice (4 per processor lost a stream in 8 of 20 execs before the fix). Not
	// with the lcddebug tag: its collection on every call would crawl under them.
	var stop atomic.Bool
	defer stop.Store(true)
	for i := 0; i < 4*runtime.GOMAXPROCS(0) && !collectsOnEveryCall; i++ {
		go func() {
			for n := 0; !stop.Load(); n++ {
			}
		}()
	}

	const execs = 20
	lost := 0
	for i := 0; i < execs; i++ {
		id := fmt.Sprintf("e%d", i)
		out := &capture{mobytest.Capture{Stdin: []byte("in\n")}}
		proc, err := task.Exec(ctx, id, &specs.Process{Args: []string{"sh", "-c", "echo out; cat; echo err >&2"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, out.attach)
		if err != nil {
			t.Fatal(err)
		}
		b.waitFor(t, "busy", libcontainerdtypes.EventExit, id)
		if _, err := proc.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := out.Stdout.String()+"|"+out.Stderr.String(), "out\nin\n|err\n"; got != want {
			lost++
			t.Errorf("exec %d: output %q, want %q", i, got, want)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d short execs lost output", lost, execs)
	}
}
