// Command lcdbench measures moby v24.0.9's libcontainerd/remote client and this project's Go
// adapter side by side against one containerd. With -drive it runs rounds that alternate the
// two implementations, each in its own process (-impl moby | -impl ours), and prints a table
// of ours, moby's and the ratio, plus a JSON file. With -native the worker of ours also asks
// the native-Rust boundary program (examples/native_calls.rs) for blocks of the same calls
// between its own, for the C-boundary figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/docker/docker/libcontainerd/remote"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	"github.com/sirupsen/logrus"

	"github.com/lcd-ffi/libcontainerd-ffi/go/libcontainerd"
)

// Result is what one worker process measured.
type Result struct {
	Impl                   string                        `json:"impl"`
	OpLatencyMs            map[string]map[string]float64 `json:"op_latency_ms"` // op -> p50/p99
	OpRPCs                 map[string]float64            `json:"op_rpcs"`       // op -> RPCs per call
	Throughput             map[string]float64            `json:"lifecycles_per_s"`
	CPUMsPerCycle          float64                       `json:"cpu_ms_per_lifecycle"`
	CPUMsByConc            map[string]float64            `json:"cpu_ms_per_lifecycle_by_concurrency"`
	OpRPCsByMethod         map[string]map[string]float64 `json:"op_rpcs_by_method"`        // op -> method -> RPCs per call
	EventLatencyMs         map[string]float64            `json:"event_latency_ms"`         // exit in the shim -> ProcessEvent: p50/p99
	PidNs                  float64                       `json:"pid_ns"`                   // Task.Pid()
	VersionUs              float64                       `json:"version_us"`               // Client.Version round trip: mean
	VersionP50Us           float64                       `json:"version_p50_us"`           // and median call
	VersionCPUUs           float64                       `json:"version_cpu_us"`           // the process's CPU per call
	VersionContextSwitches float64                       `json:"version_context_switches"` // the process's, per call
	PeakRSSMiB             float64                       `json:"peak_rss_mib"`
	RSSMiB                 float64                       `json:"rss_mib"` // after the throughput phase
	GrowthCycles           int                           `json:"growth_lifecycles,omitempty"`
	RSSGrowthMiB           float64                       `json:"rss_growth_mib,omitempty"`
	RSSGrowthLastHalfMiB   float64                       `json:"rss_growth_last_half_mib,omitempty"`
	RSSSlopeKiB            float64                       `json:"rss_slope_kib_per_1000,omitempty"`
	CHeapGrowthKiB         float64                       `json:"c_heap_growth_kib,omitempty"`
	CHeapSlopeKiB          float64                       `json:"c_heap_slope_kib_per_1000,omitempty"`
	GoHeapGrowthKiB        float64                       `json:"go_heap_growth_kib,omitempty"`
	GoHeapSlopeKiB         float64                       `json:"go_heap_slope_kib_per_1000,omitempty"`
	Threads                int                           `json:"threads"`
	LifecyclesTotal        int                           `json:"lifecycles"`

	// The same calls made natively in Rust, in blocks between ours (ours only, with -native).
	NativePidNs                  float64 `json:"native_pid_ns,omitempty"`
	NativeVersionUs              float64 `json:"native_version_us,omitempty"`
	NativeVersionP50Us           float64 `json:"native_version_p50_us,omitempty"`
	NativeVersionCPUUs           float64 `json:"native_version_cpu_us,omitempty"`
	NativeVersionContextSwitches float64 `json:"native_version_context_switches,omitempty"`
}

var (
	impl      = flag.String("impl", "", "worker mode: moby or ours")
	drive     = flag.Bool("drive", false, "run rounds alternating both implementations")
	rounds    = flag.Int("rounds", 3, "rounds (drive mode)")
	opsN      = flag.Int("ops", 20, "samples per operation")
	cycles    = flag.Int("lifecycles", 64, "lifecycles per concurrency level")
	jsonOut   = flag.String("json", "bench.json", "JSON output (drive mode)")
	boundary  = flag.Bool("boundary", true, "measure the pid and Version calls (worker mode)")
	concs     = flag.String("concurrency", "1,8,32", "concurrency levels of the throughput phase")
	growth    = flag.Int("growth", 0, "lifecycles of the RSS-growth phase (drive mode: run in the last round)")
	native    = flag.String("native", "", "the native-Rust boundary program (examples/native_calls); drive mode passes it to the worker of ours")
	stateRoot = flag.String("state-root", defaultStateRoot(),
		"where both clients keep their state directories (FIFOs); dockerd keeps its own under the exec-root, /var/run/docker, a tmpfs on most hosts")
)

// defaultStateRoot is a tmpfs when the machine has one at /dev/shm, like dockerd's exec-root
// on a systemd host; otherwise the temporary directory. On a disk file system every FIFO and
// directory the clients create costs inode allocation and discards that both pay about
// equally, which only dilutes the comparison (BENCHMARKS.md).
func defaultStateRoot() string {
	var fs syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &fs); err == nil && fs.Type == tmpfsMagic {
		return "/dev/shm"
	}
	return os.TempDir()
}

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

// exits signals exit events per container to waiters, and records how long each exit took
// from the shim (ExitedAt) to ProcessEvent.
type exits struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
	latency []time.Duration
	// growthPhase stops latency samples piling up while RSS growth is measured.
	growthPhase bool
}

func (e *exits) ProcessEvent(id string, et libcontainerdtypes.EventType, ei libcontainerdtypes.EventInfo) error {
	if et != libcontainerdtypes.EventExit {
		return nil
	}
	arrived := time.Now()
	e.mu.Lock()
	key := id + "/" + ei.ProcessID
	ch := e.waiters[key]
	// Forget what is done with: the RSS-growth phase must measure the client, not this map.
	delete(e.waiters, key)
	if !ei.ExitedAt.IsZero() && !e.growthPhase {
		e.latency = append(e.latency, arrived.Sub(ei.ExitedAt))
	}
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
	// Both clients log through logrus at dockerd's default level (info); the records are
	// formatted as in dockerd but not shown.
	logrus.SetOutput(io.Discard)
	socket, rootfs := os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	if socket == "" || rootfs == "" || os.Getenv("LCD_CONTAINERD_METRICS") == "" {
		return nil, fmt.Errorf("run inside the test bed (make bench)")
	}
	ns := fmt.Sprintf("lcdbench-%s-%d", which, os.Getpid())
	stateDir := filepath.Join(*stateRoot, "lcd-bench-state", ns)
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
	res := &Result{Impl: which, OpLatencyMs: map[string]map[string]float64{}, OpRPCs: map[string]float64{},
		OpRPCsByMethod: map[string]map[string]float64{}, Throughput: map[string]float64{}}
	if err := measureOps(ctx, client, ev, rootfs, res); err != nil {
		return nil, err
	}
	res.CPUMsByConc = map[string]float64{}
	var cpuTotal time.Duration
	for _, field := range strings.Split(*concs, ",") {
		conc, err := strconv.Atoi(field)
		if err != nil || conc < 1 {
			return nil, fmt.Errorf("bad -concurrency level %q", field)
		}
		start, cpuBefore := time.Now(), cpuTime()
		if err := lifecycles(ctx, client, ev, rootfs, conc, *cycles, fmt.Sprintf("t%d", conc)); err != nil {
			return nil, err
		}
		cpu := cpuTime() - cpuBefore
		cpuTotal += cpu
		res.Throughput[strconv.Itoa(conc)] = float64(*cycles) / time.Since(start).Seconds()
		res.CPUMsByConc[strconv.Itoa(conc)] = float64(cpu.Microseconds()) / 1000 / float64(*cycles)
		res.LifecyclesTotal += *cycles
	}
	res.CPUMsPerCycle = float64(cpuTotal.Microseconds()) / 1000 / float64(res.LifecyclesTotal)
	ev.mu.Lock()
	res.EventLatencyMs = map[string]float64{"p50": percentile(ev.latency, 0.5), "p99": percentile(ev.latency, 0.99)}
	ev.mu.Unlock()
	res.RSSMiB = rssMiB()
	if *boundary {
		nativePath := ""
		if which == "ours" {
			nativePath = *native
		}
		if err := measureBoundary(ctx, client, ev, rootfs, nativePath, res); err != nil {
			return nil, err
		}
	}
	if *growth > 0 {
		// Memory after a warm-up of a tenth of the cycles, then after each ninth of the rest.
		// End minus warm-up is the growth; the least-squares slope over the ten samples tells
		// growth that keeps going from a one-time settling (arenas, caches, more threads) and
		// from the noise of a single pair of samples.
		warm := *growth / 10
		const steps = 9
		chunk := (*growth - warm) / steps
		ev.mu.Lock()
		ev.growthPhase = true
		ev.mu.Unlock()
		if err := lifecycles(ctx, client, ev, rootfs, 8, warm, "g0"); err != nil {
			return nil, err
		}
		var done, rss, cHeap, goHeap []float64
		record := func(n int) {
			m := sampleMemory()
			done = append(done, float64(n))
			rss = append(rss, m.rssMiB*1024)
			cHeap = append(cHeap, m.cHeapKiB)
			goHeap = append(goHeap, m.goHeapKiB)
		}
		record(0)
		for i := 1; i <= steps; i++ {
			if err := lifecycles(ctx, client, ev, rootfs, 8, chunk, fmt.Sprintf("g%d", i)); err != nil {
				return nil, err
			}
			record(i * chunk)
		}
		last := len(done) - 1
		res.GrowthCycles = steps * chunk
		res.RSSGrowthMiB = (rss[last] - rss[0]) / 1024
		res.RSSGrowthLastHalfMiB = (rss[last] - rss[last/2]) / 1024
		res.RSSSlopeKiB = slopePer1000(done, rss)
		res.CHeapGrowthKiB = cHeap[last] - cHeap[0]
		res.CHeapSlopeKiB = slopePer1000(done, cHeap)
		res.GoHeapGrowthKiB = goHeap[last] - goHeap[0]
		res.GoHeapSlopeKiB = slopePer1000(done, goHeap)
	}
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	res.PeakRSSMiB = float64(usage.Maxrss) / 1024
	res.Threads = threads()
	return res, nil
}
