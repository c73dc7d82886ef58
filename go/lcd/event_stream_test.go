package lcd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The stream is watched through the library's ready callback: opening it and waiting on it
// make no descriptor in this process (it used to cost an eventfd and the duplicate Go's poller
// needs, two of dockerd-lcd's descriptors at rest).
func TestEventStreamMakesNoDescriptorAndDeliversThroughItsCallback(t *testing.T) {
	c := connect(t, "evfd")
	ctx := context.Background()
	before := openDescriptors(t)
	events, err := c.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	waited := make(chan Event, 1)
	go func() {
		ev, err := events.Next(ctx)
		if err != nil {
			t.Errorf("next: %v", err)
		}
		waited <- ev
	}()
	time.Sleep(100 * time.Millisecond)
	// Only more descriptors count: the process may close one of its own meanwhile.
	if during := openDescriptors(t); during > before {
		t.Fatalf("an open event stream with a waiting reader changed the open descriptors from %d to %d", before, during)
	}
	ctr := create(t, c, "evfd", "true")
	task, err := ctr.NewTask(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-waited:
		if ev.Kind != EventCreate || ev.ContainerID != "evfd" {
			t.Fatalf("first event: %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting reader was not woken by the task's create event")
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// Several goroutines reading one stream get every event between them, also when each takes one
// and leaves (a reader woken while another holds the queue must be woken again).
func TestConcurrentReadersOfOneStreamGetEveryEvent(t *testing.T) {
	c := connect(t, "evreaders")
	ctx := context.Background()
	events, err := c.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	// Each reader takes one event and leaves: the wake-up of an event left queued must reach
	// a reader still waiting.
	const containers = 8
	got := make(chan Event, 3*containers)
	for r := 0; r < 3*containers; r++ {
		go func() {
			if ev, err := events.Next(ctx); err == nil {
				got <- ev
			}
		}()
	}
	// Many events at once (the tasks' creates, starts and exits from goroutines), so that two
	// can arrive before a woken reader takes the first.
	var wg sync.WaitGroup
	for i := 0; i < containers; i++ {
		id := fmt.Sprintf("evreaders-%d", i)
		ctr := create(t, c, id, "true")
		wg.Add(1)
		go func() {
			defer wg.Done()
			task, err := ctr.NewTask(ctx, false)
			if err != nil {
				t.Error(err)
				return
			}
			if err := task.Start(ctx); err != nil {
				t.Error(err)
			}
			_, _ = task.Wait(ctx)
			_, _ = task.Delete(ctx)
			_ = ctr.Delete(ctx)
		}()
	}
	wg.Wait()
	kinds := map[EventKind]int{}
	deadline := time.After(10 * time.Second)
	for n := 0; n < 3*containers; n++ {
		select {
		case ev := <-got:
			kinds[ev.Kind]++
		case <-deadline:
			t.Fatalf("after %d of %d events the readers got no more (%v): an event was left behind", n, 3*containers, kinds)
		}
	}
	events.Close()
	if kinds[EventCreate] != containers || kinds[EventStart] != containers || kinds[EventExit] != containers {
		t.Fatalf("events by kind: %v", kinds)
	}
}
