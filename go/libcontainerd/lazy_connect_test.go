package libcontainerd

import (
	"context"
	"os"
	"testing"

	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
)

func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// The connection is made in go/adapter, shared by every moby version.
// dockerd makes a second client for its plugin executor, which a daemon without managed plugins
// never uses; moby's shares the daemon's containerd connection, so it costs nothing. Ours must
// hold no descriptor (connection, event stream) until its first use, and that first use must
// still see every event of what it starts.
func TestNewClientHoldsNoDescriptorUntilItsFirstUse(t *testing.T) {
	before := openDescriptors(t)
	c, b, rootfs := testClient(t, "lazy")
	// Only more descriptors count against it: the binding may close idle ones meanwhile.
	if after := openDescriptors(t); after > before {
		t.Fatalf("a new client that was never used holds %d descriptors", after-before)
	}
	ctx := context.Background()
	ctr, err := c.NewContainer(ctx, "lazy", ociSpec(rootfs, "lazy", "sh", "-c", "exit 4"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	events := b.waitFor(t, "lazy", libcontainerdtypes.EventExit, "lazy")
	if len(events) != 3 || events[0].Type != string(libcontainerdtypes.EventCreate) || events[2].ExitCode != 4 {
		t.Fatalf("events of the first container %+v", events)
	}
	if _, err := tk.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
