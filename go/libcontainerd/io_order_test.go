package libcontainerd

// The order of IO and deletes on exec delete and on failure paths: no wait for the caller's
// copies that a process outside containerd's control can make last for ever.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/cio"
	cerrdefs "github.com/containerd/containerd/errdefs"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An exec that leaves a background child behind (`docker exec c sh -c 'sleep 15 &'`): the
// child keeps the exec's pipes into the shim open. containerd's client deletes the process
// first (the shim then closes the FIFOs after at most ~2 s) and only then waits for the IO;
// waiting for the IO first would last as long as the child.
func TestExecDeleteWithBackgroundChildEndsWithinSeconds(t *testing.T) {
	ctx := context.Background()
	c, b, rootfs := testClient(t, "bgchild")
	_, task := startSleeper(t, c, rootfs, "bg")
	defer task.ForceDelete(ctx)
	out := &capture{}
	p, err := task.Exec(ctx, "bg-exec", &specs.Process{Args: []string{"sh", "-c", "echo started; sleep 15 &"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, out.attach)
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "bg", libcontainerdtypes.EventExit, "bg-exec")
	fifoGlob := filepath.Join(os.TempDir(), "lcd-moby-state", fmt.Sprintf("lcdmoby-bgchild-%d", os.Getpid()), "bg", "bg-exec-*")
	if fifos, _ := filepath.Glob(fifoGlob); len(fifos) == 0 {
		t.Fatalf("no FIFOs match %s before the delete: the check below would prove nothing", fifoGlob)
	}
	began := time.Now()
	if _, err := p.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	// The shim itself waits for the exec's output to drain before it answers the delete: about
	// 2 s in containerd 1.6's runc shim, up to 10 s from 1.7 on. Waiting for the caller's IO
	// first would take the background child's 15 s.
	limit := 3500 * time.Millisecond
	if v := os.Getenv("LCD_CONTAINERD_VERSION"); v != "" && v != "1.6" {
		limit = 12 * time.Second
	}
	if took := time.Since(began); took > limit {
		t.Fatalf("exec delete took %v (limit %v) while a background child lived: it waited for the IO before the delete", took, limit)
	}
	// Delete returned after the caller's copies ended (Wait): the output is complete.
	if got := out.Stdout.String(); got != "started\n" {
		t.Fatalf("exec output %q", got)
	}
	if fifos, _ := filepath.Glob(fifoGlob); len(fifos) != 0 {
		t.Fatalf("the exec's FIFOs are left: %v", fifos)
	}
	// The shim forgot the exec: its id is free again.
	again, err := task.Exec(ctx, "bg-exec", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, (&capture{}).attach)
	if err != nil {
		t.Fatalf("the exec id is still in use in the shim: %v", err)
	}
	// The first exec's exit event is recorded under the same id: wait for the second one.
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := again.Delete(ctx)
		if err == nil {
			break
		}
		if !cerrdefs.IsFailedPrecondition(err) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fifoHolder is a caller whose stdout FIFO's write end is also held by a process outside
// containerd, as the container's processes hold it when containerd dies during the create.
type fifoHolder struct {
	capture
	stdoutFIFO string
	holder     *exec.Cmd
}

func (h *fifoHolder) attach(dio *cio.DirectIO) (cio.IO, error) {
	w, err := os.OpenFile(h.stdoutFIFO, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	h.holder = exec.Command("sleep", "60")
	h.holder.Stdout = w
	if err := h.holder.Start(); err != nil {
		return nil, err
	}
	return h.capture.attach(dio)
}

// A task create that fails while a process still holds the FIFOs' write ends: moby cancels and
// closes the IO without waiting for the caller's copies, so the start returns at once; waiting
// would last as long as that process (for ever in `docker run` when containerd died).
func TestFailedCreateDoesNotWaitForIOHeldElsewhere(t *testing.T) {
	ctx := context.Background()
	c, _, rootfs := testClient(t, "heldfifo")
	ctr, err := c.NewContainer(ctx, "held", ociSpec(rootfs, "held", "/nonexistent"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Delete(ctx)
	h := &fifoHolder{stdoutFIFO: filepath.Join(os.TempDir(), "lcd-moby-state", fmt.Sprintf("lcdmoby-heldfifo-%d", os.Getpid()), "held", "held-stdout")}
	defer func() {
		if h.holder != nil && h.holder.Process != nil {
			_ = h.holder.Process.Kill()
			_ = h.holder.Wait()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := ctr.Start(ctx, "", false, h.attach)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "failed to create task for container: failed to create shim task: ") {
			t.Fatalf("start of a missing executable: %v", err)
		}
		if h.holder == nil || h.holder.Process == nil {
			t.Fatal("no process held the FIFO: the check proved nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failed create waited for IO held by a process outside containerd")
	}
}
