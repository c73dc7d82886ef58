package lcd

import (
	"context"
	"strings"
	"sync"
	"testing"
)

func TestLogSinkReceivesLibraryRecords(t *testing.T) {
	var mu sync.Mutex
	var seen []map[string]string
	SetLogSink(func(level LogLevel, target, message string, fields map[string]string) {
		if message == "containerd request" {
			mu.Lock()
			seen = append(seen, fields)
			mu.Unlock()
		}
	}, LogTrace)
	defer SetLogSink(nil, LogError)
	c := connect(t, "logging")
	if _, _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range seen {
		if strings.HasSuffix(f["method"], "Version/Version") {
			return
		}
	}
	t.Fatalf("no Version record among %v", seen)
}
