package libcontainerd

// The differential suite: the same scenarios through moby v24.0.9's own libcontainerd/remote
// client and through this adapter, against the same containerd, comparing what a caller
// observes and counting the RPCs containerd served for each (its metrics endpoint).

import (
	"context"
	"testing"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// StartTask is v24's Container.Start: create and start in one call.
func (c driverContainer) StartTask(ctx context.Context, withStdin bool, stdio mobytest.Stdio) (mobytest.Task, error) {
	t, err := c.Start(ctx, "", withStdin, stdioCallback(stdio))
	if err != nil {
		return nil, err
	}
	return driverTask{t}, nil
}

func TestDifferentialAgainstMobysRemoteClient(t *testing.T) {
	mobytest.CompareWithMoby(t, scenarioClient(mobyClient), scenarioClient(ourClient))
}
