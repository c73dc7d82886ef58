package mobytest

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

// Event is one event as a daemon's Backend received it; Type is moby's EventType value.
type Event struct {
	Container, Type, ProcessID string
	Pid, ExitCode              uint32
	ExitedAt                   time.Time
}

// Recorder keeps the events a Backend received, as dockerd's daemon would.
type Recorder struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

// NewRecorder makes an empty recorder.
func NewRecorder() *Recorder { return &Recorder{notify: make(chan struct{}, 1024)} }

// Record adds an event (a version's Backend.ProcessEvent calls it).
func (r *Recorder) Record(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.notify <- struct{}{}
}

// WaitFor returns the events of container id once one of type typ for processID arrived.
func (r *Recorder) WaitFor(t *testing.T, id, typ, processID string) []Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		var mine []Event
		found := false
		for _, e := range r.events {
			if e.Container == id {
				mine = append(mine, e)
				if e.Type == typ && e.ProcessID == processID {
					found = true
				}
			}
		}
		r.mu.Unlock()
		if found {
			return mine
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("no %s event for %s/%s; got %+v", typ, id, processID, mine)
		}
	}
}

// Capture is what dockerd's stdio callback does in miniature: copy the output, write Stdin
// and close it, and make Wait return once everything was copied.
type Capture struct {
	Stdin          []byte
	Stdout, Stderr bytes.Buffer
	wg             sync.WaitGroup
}

// Attach starts copying from the process's output pipes and writing its input (nil ones are
// skipped).
func (c *Capture) Attach(stdout, stderr io.Reader, stdin io.WriteCloser) {
	for _, pair := range []struct {
		r   io.Reader
		dst *bytes.Buffer
	}{{stdout, &c.Stdout}, {stderr, &c.Stderr}} {
		if pair.r == nil {
			continue
		}
		c.wg.Add(1)
		go func(r io.Reader, dst *bytes.Buffer) {
			defer c.wg.Done()
			_, _ = io.Copy(dst, r)
		}(pair.r, pair.dst)
	}
	if stdin != nil {
		go func() {
			_, _ = stdin.Write(c.Stdin)
			_ = stdin.Close() // moby: closing the writer closes the process's stdin
		}()
	}
}

// Wait waits for the output copies.
func (c *Capture) Wait() { c.wg.Wait() }
