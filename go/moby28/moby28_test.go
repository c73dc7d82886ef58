package moby28

// The shared differential scenarios (go/mobytest) through the moby version's own
// libcontainerd/remote client and through this adapter, on the test bed's containerd.

import (
	"context"
	"fmt"
	"testing"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// StartTask is dockerd's order: NewTask, then Start.
func (c driverContainer) StartTask(ctx context.Context, withStdin bool, stdio mobytest.Stdio) (mobytest.Task, error) {
	t, err := c.NewTask(ctx, "", withStdin, stdioCallback(stdio))
	if err != nil {
		return nil, err
	}
	if t.Pid() == 0 {
		return nil, fmt.Errorf("NewTask gave a task without a pid")
	}
	if err := t.Start(ctx); err != nil {
		_ = t.ForceDelete(ctx) // dockerd's cleanup after a failed start
		return nil, err
	}
	return driverTask{t}, nil
}

func TestDifferentialAgainstMobysRemoteClient(t *testing.T) {
	mobytest.CompareWithMoby(t, scenarioClient(mobyClient), scenarioClient(ourClient))
}

func TestDifferentialFailurePathsErrorText(t *testing.T) {
	mobytest.CompareFailures(t, scenarioClient(mobyClient), scenarioClient(ourClient))
}
