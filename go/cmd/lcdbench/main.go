// Command lcdbench measures moby v24.0.9's libcontainerd/remote client and this project's Go
// adapter side by side against one containerd. With -drive it runs rounds that alternate the
// two implementations, each in its own process (-impl moby | -impl ours), and prints a table
// of ours, moby's and the ratio, plus a JSON file. Issue 6 grows this into the full benchmark.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/docker/docker/libcontainerd/remote"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"

	"github.com/lcd-ffi/libcontainerd-ffi/go/libcontainerd"
)

// Result is what one worker process measured.
type Result struct {
	Impl            string                        `json:"impl"`
	OpLatencyMs     map[string]map[string]float64 `json:"op_latency_ms"` // op -> p50/p99
	OpRPCs          map[string]float64            `json:"op_rpcs"`       // op -> RPCs per call
	Throughput      map[string]float64            `json:"lifecycles_per_s"`
	CPUMsPerCycle   float64                       `json:"cpu_ms_per_lifecycle"`
	PeakRSSMiB      float64                       `json:"peak_rss_mib"`
	Threads         int                           `json:"threads"`
	LifecyclesTotal int                           `json:"lifecycles"`
}

var (
	impl    = flag.String("impl", "", "worker mode: moby or ours")
	drive   = flag.Bool("drive", false, "run rounds alternating both implementations")
	rounds  = flag.Int("rounds", 3, "rounds (drive mode)")
	opsN    = flag.Int("ops", 20, "samples per operation")
	cycles  = flag.Int("lifecycles", 64, "lifecycles per concurrency level")
	jsonOut = flag.String("json", "bench.json", "JSON output (drive mode)")
)

func main() {
	flag.Parse()
	switch {
	case *drive:
		driveRounds()
	case *impl != "":
		res, err := work(*impl)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lcdbench:", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// exits signals exit events per container to waiters.
type exits struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func (e *exits) ProcessEvent(id string, et libcontainerdtypes.EventType, ei libcontainerdtypes.EventInfo) error {
	if et != libcontainerdtypes.EventExit {
		return nil
	}
	e.mu.Lock()
	ch := e.waiters[id+"/"+ei.ProcessID]
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	return nil
}

func (e *exits) expect(id, process string) chan struct{} {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[id+"/"+process] = ch
	e.mu.Unlock()
	return ch
}

func work(which string) (*Result, error) {
	ctx := context.Background()
	socket, rootfs := os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	if socket == "" || rootfs == "" || os.Getenv("LCD_CONTAINERD_METRICS") == "" {
		return nil, fmt.Errorf("run inside the test bed (make bench)")
	}
	ns := fmt.Sprintf("lcdbench-%s-%d", which, os.Getpid())
	stateDir := filepath.Join(os.TempDir(), "lcd-bench-state", ns)
	ev := &exits{waiters: map[string]chan struct{}{}}
	var client libcontainerdtypes.Client
	var err error
	switch which {
	case "moby":
		cli, cerr := containerd.New(socket, containerd.WithDefaultNamespace(ns))
		if cerr != nil {
			return nil, cerr
		}
		defer cli.Close()
		client, err = remote.NewClient(ctx, cli, stateDir, ns, ev)
	case "ours":
		client, err = libcontainerd.NewClientWithAddress(ctx, socket, stateDir, ns, ev)
	default:
		return nil, fmt.Errorf("unknown implementation %q", which)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Impl: which, OpLatencyMs: map[string]map[string]float64{}, OpRPCs: map[string]float64{}, Throughput: map[string]float64{}}
	if err := measureOps(ctx, client, ev, rootfs, res); err != nil {
		return nil, err
	}
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for _, conc := range []int{1, 8, 32} {
		start := time.Now()
		if err := lifecycles(ctx, client, ev, rootfs, conc, *cycles, fmt.Sprintf("t%d", conc)); err != nil {
			return nil, err
		}
		res.Throughput[strconv.Itoa(conc)] = float64(*cycles) / time.Since(start).Seconds()
		res.LifecyclesTotal += *cycles
	}
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	res.CPUMsPerCycle = float64(cpu.Microseconds()) / 1000 / float64(res.LifecyclesTotal)
	res.PeakRSSMiB = float64(after.Maxrss) / 1024
	res.Threads = threads()
	return res, nil
}
