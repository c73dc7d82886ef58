package lcd

import (
	"context"
	"testing"
	"time"
)

func TestContextCancellationAndDeadlineEndBlockingCalls(t *testing.T) {
	c := connect(t, "cancel")
	events, err := c.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := events.Next(ctx); StatusOf(err) != Cancelled {
		t.Fatalf("cancelled next: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancellation was not prompt")
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, err := events.Next(dctx); StatusOf(err) != DeadlineExceeded {
		t.Fatalf("deadline next: %v", err)
	}
	done, dc := context.WithCancel(context.Background())
	dc()
	if _, _, err := c.Version(done); StatusOf(err) != Cancelled {
		t.Fatalf("already cancelled: %v", err)
	}

	// The stream still delivers after cancelled waits (the poller's deadline is cleared).
	ctr := create(t, c, "after-cancel", "true")
	task, err := ctr.NewTask(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := events.Next(context.Background()); err != nil || ev.Kind != EventCreate || ev.ContainerID != "after-cancel" {
		t.Fatalf("event after cancelled waits: %+v, %v", ev, err)
	}
	if _, err := task.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Close wakes a caller waiting in Next.
	waiting := make(chan error, 1)
	go func() {
		for {
			if _, err := events.Next(context.Background()); err != nil {
				waiting <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	events.Close()
	select {
	case err := <-waiting:
		if StatusOf(err) != Unavailable {
			t.Fatalf("next after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the waiting Next")
	}
}

func TestAsyncCallsReuseTheirNotifiersAndMakeNoDescriptorEach(t *testing.T) {
	c := connect(t, "notifier")
	ctx := context.Background()
	ctr, task := sleepingTask(t, c, "notifier")
	if _, err := task.Status(ctx); err != nil {
		t.Fatal(err)
	}
	before := openDescriptors(t)
	for i := 0; i < 20; i++ {
		if st, err := task.Status(ctx); err != nil || st.State != StateRunning {
			t.Fatalf("status %d: %+v, %v", i, st, err)
		}
	}
	// A call in flight uses the pooled notifier: no pipe, duplicate or socket of its own. A
	// call ended by its context's deadline gives the notifier back too: its byte comes when
	// the library finishes the call as cancelled.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := task.Wait(short)
		waited <- err
	}()
	time.Sleep(100 * time.Millisecond)
	during := openDescriptors(t)
	if err := <-waited; StatusOf(err) != DeadlineExceeded {
		t.Fatalf("wait with a deadline: %v", err)
	}
	// Only more descriptors count against the call: the process may close one of its own
	// meanwhile (a connection of an earlier test's client going away).
	if during > before {
		t.Fatalf("a waiting asynchronous call changed the open descriptors from %d to %d: it should wait on the pooled notifier", before, during)
	}
	if after := openDescriptors(t); after > before {
		t.Fatalf("21 sequential asynchronous calls changed the open descriptors from %d to %d: each should reuse the pooled notifier", before, after)
	}
	if err := task.Kill(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if exit, err := task.Wait(ctx); err != nil || exit.Code != 137 {
		t.Fatalf("wait: %+v, %v", exit, err)
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// Blocking calls made back to back pass through the scheduler once per yieldEvery, no more
// often: often enough that sysmon never sees the goroutine as running too long, rarely enough
// that the wake-up a yield costs does not add up.
func TestBlockingCallsYieldToTheSchedulerAtMostOncePerInterval(t *testing.T) {
	sinceStart := func() int64 { return int64(time.Since(processStart)) }

	recent := sinceStart()
	lastYield.Store(recent)
	yieldBeforeBlocking()
	if got := lastYield.Load(); got != recent {
		t.Fatalf("yielded %v after the last yield; want no yield within %v", time.Duration(got-recent), yieldEvery)
	}

	overdue := sinceStart() - int64(2*yieldEvery)
	lastYield.Store(overdue)
	before := sinceStart()
	yieldBeforeBlocking()
	if got := lastYield.Load(); got < before {
		t.Fatalf("no yield %v after the last one; want a yield once %v has passed", time.Duration(before-overdue), yieldEvery)
	}
}
