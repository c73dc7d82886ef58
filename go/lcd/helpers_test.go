package lcd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lcd-ffi/libcontainerd-ffi/go/internal/busybox"
)

// The test bed (tests/testbed.sh) names the private containerd and the busybox root
// filesystem; `make test-go` runs these tests inside it.
func testbed(t *testing.T) (socket, rootfs string) {
	socket, rootfs = os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	if socket == "" || rootfs == "" {
		t.Fatal("LCD_CONTAINERD_SOCKET and LCD_TEST_ROOTFS must name the test bed: run `make test-go`")
	}
	return socket, rootfs
}

func connect(t *testing.T, name string) *Client {
	socket, _ := testbed(t)
	ns := fmt.Sprintf("lcdgo-%s-%d", name, os.Getpid())
	c, err := Connect(context.Background(), socket, ns, filepath.Join(os.TempDir(), "lcd-go-state", ns))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// spec is the busybox spec of every test (tests/fixtures/busybox_spec.json) running args.
func spec(t *testing.T, id string, args []string, terminal bool) []byte {
	_, rootfs := testbed(t)
	b, err := json.Marshal(busybox.Spec(rootfs, args, terminal, id, fmt.Sprintf("/lcd-test/go-%d-%s", os.Getpid(), id)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func create(t *testing.T, c *Client, id string, args ...string) *Container {
	ctr, err := c.CreateContainer(context.Background(), id, ContainerConfig{
		SpecJSON: spec(t, id, args, false), Runtime: "io.containerd.runc.v2", Labels: map[string]string{"test": "go"},
	})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return ctr
}

// sleepingTask creates container id running `sleep 1000` and starts its task.
func sleepingTask(t *testing.T, c *Client, id string) (*Container, *Task) {
	ctr := create(t, c, id, "sleep", "1000")
	task, err := ctr.NewTask(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ctr, task
}

func readAll(path string) chan string {
	out := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(path)
		out <- string(b)
	}()
	return out
}

// openDescriptors counts the process's open file descriptors.
func openDescriptors(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// settledRPCTotal is the client's RPC count once the RPCs it sends on its own after connecting
// (its event subscription) are counted: the count has not moved for 200 ms (at most 5 s).
func settledRPCTotal(t *testing.T, c *Client) uint64 {
	deadline := time.Now().Add(5 * time.Second)
	last, since := c.RPCTotal(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if n := c.RPCTotal(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 200*time.Millisecond {
			return n
		}
	}
	t.Fatalf("the client's RPC count did not settle within 5 s (at %d)", last)
	return 0
}
