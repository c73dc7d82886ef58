package lcd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every field of a ContainerConfig goes through the library's setter for it: a bad one is
// refused with InvalidArgument (a local error, no server text) before any RPC, and leaves no
// record and no bundle directory behind.
func TestCreateContainerRefusesEachBadFieldBeforeAnyRPC(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "badconfig")
	good := func() ContainerConfig {
		return ContainerConfig{SpecJSON: spec(t, "bad", []string{"true"}, false), Runtime: "io.containerd.runc.v2"}
	}
	cases := []struct {
		name, id, want string
		edit           func(*ContainerConfig)
	}{
		{"invalid id", "../x", "not a valid identifier", func(*ContainerConfig) {}},
		{"empty id", "", "container id must not be empty", func(*ContainerConfig) {}},
		{"spec that is not JSON", "bad", "JSON", func(cfg *ContainerConfig) { cfg.SpecJSON = []byte(`{"process":`) }},
		{"no spec", "bad", "JSON", func(cfg *ContainerConfig) { cfg.SpecJSON = nil }},
		{"empty runtime", "bad", "runtime name must not be empty", func(cfg *ContainerConfig) { cfg.Runtime = "" }},
		{"runtime options without a type URL", "bad", "without a type URL", func(cfg *ContainerConfig) { cfg.RuntimeOptions = []byte{1} }},
		{"empty label key", "bad", "label key must not be empty", func(cfg *ContainerConfig) { cfg.Labels = map[string]string{"a": "1", "": "v"} }},
		{"label key that is not UTF-8", "bad", "label key is not valid UTF-8", func(cfg *ContainerConfig) { cfg.Labels = map[string]string{"\xff": "v"} }},
		{"label value that is not UTF-8", "bad", "label value is not valid UTF-8", func(cfg *ContainerConfig) { cfg.Labels = map[string]string{"k": "\xff"} }},
		{"image that is not UTF-8", "bad", "image is not valid UTF-8", func(cfg *ContainerConfig) { cfg.Image = "\xff" }},
		{"snapshotter that is not UTF-8", "bad", "snapshotter is not valid UTF-8", func(cfg *ContainerConfig) { cfg.Snapshotter = "\xfe" }},
		{"snapshot key that is not UTF-8", "bad", "snapshot key is not valid UTF-8", func(cfg *ContainerConfig) { cfg.SnapshotKey = "\xfe" }},
		{"extension without a type URL", "bad", "extension type URL must not be empty", func(cfg *ContainerConfig) { cfg.Extensions = map[string]Any{"e": {Value: []byte{1}}} }},
		{"extension without a name", "bad", "extension name must not be empty", func(cfg *ContainerConfig) { cfg.Extensions = map[string]Any{"": {TypeURL: "t"}} }},
	}
	rpcs := settledRPCTotal(t, c)
	for _, tc := range cases {
		cfg := good()
		tc.edit(&cfg)
		var le *Error
		_, err := c.CreateContainer(ctx, tc.id, cfg)
		if StatusOf(err) != InvalidArgument || !errors.As(err, &le) || le.FromServer || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want InvalidArgument with %q", tc.name, err, tc.want)
		}
	}
	if c.RPCTotal() != rpcs {
		t.Fatalf("refused configurations made %d RPCs", c.RPCTotal()-rpcs)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "lcd-go-state", c.namespace, "bad")); !os.IsNotExist(err) {
		t.Fatalf("a refused create left its bundle directory: %v", err)
	}
}

// A huge bad value is quoted only in part.
func TestCreateContainerRefusalsQuoteABoundedPart(t *testing.T) {
	c := connect(t, "hugeconfig")
	huge := strings.Repeat("x/", 1<<20)
	_, err := c.CreateContainer(context.Background(), huge, ContainerConfig{SpecJSON: []byte("{}"), Runtime: "r"})
	if StatusOf(err) != InvalidArgument || len(err.Error()) > 300 {
		t.Fatalf("a %d-byte id gave a %d-byte error: %.300s", len(huge), len(err.Error()), err)
	}
}
