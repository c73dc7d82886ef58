package lcd

import (
	"context"
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
