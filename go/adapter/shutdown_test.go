package adapter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// dockerd ends the context it gave NewClient at shutdown (after stopping its containers) and
// never closes the client (issue 19 item 7). moby's client stops its event processing then;
// this one closes its library client, so that the library stops resubscribing once containerd
// goes (tests/outage.rs checks that part against a stopped containerd).
func TestEndOfTheEventsContextClosesTheLibraryClient(t *testing.T) {
	socket := os.Getenv("LCD_CONTAINERD_SOCKET")
	if socket == "" {
		t.Fatal("LCD_CONTAINERD_SOCKET must name the test bed: run `make test-go`")
	}
	ns := "lcdadapter-shutdown"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := EventSink{Append: func(string, func()) {}, Process: func(Event) error { return nil }}
	c, err := Connect(ctx, socket, filepath.Join(os.TempDir(), "lcd-adapter-state", ns), ns, Errors{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Version(context.Background()); err != nil {
		t.Fatalf("version before the context ends: %v", err)
	}
	lc := c.connected.Load()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := lc.Version(context.Background())
		if lcd.IsClosed(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the library client is still open 5 s after the events context ended (last answer: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
