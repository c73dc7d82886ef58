package lcd

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A burst of concurrent calls fills the notifier pool (a socket pair each); once the process is
// idle again they must be closed, or a daemon keeps two descriptors per call of its busiest
// moment for ever (dockerd-lcd held 144 descriptors against stock's 35 after 1,000 `docker run`s
// at concurrency 8 and a few at 32, `make bench-dockerd`).
func TestIdleNotifiersAreClosedAfterABurst(t *testing.T) {
	c := connect(t, "idle-notifiers")
	ctx := context.Background()
	ctr, task := sleepingTask(t, c, "idle-notifiers")
	defer func() {
		task.Kill(ctx, 9)
		task.Wait(ctx)
		task.Delete(ctx)
		ctr.Delete(ctx)
	}()
	// Whatever earlier tests left in the pool goes idle first.
	time.Sleep(notifierIdleTimeout + time.Second)
	before := openDescriptors(t)
	const inFlight = 24
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, inFlight)
	for i := 0; i < inFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < 5; j++ {
				if _, err := task.Status(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if burst := openDescriptors(t); burst <= before {
		t.Logf("the burst left %d descriptors against %d before (the calls did not overlap)", burst, before)
	}
	deadline := time.Now().Add(2*notifierIdleTimeout + 2*time.Second)
	for {
		after := openDescriptors(t)
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after a burst of %d concurrent calls the process still holds %d descriptors more than before it", 2*notifierIdleTimeout+2*time.Second, inFlight, after-before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
