package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/cio"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/internal/busybox"
)

// drain is a stdio callback that discards the output, as a log driver would consume it.
type drain struct {
	*cio.DirectIO
	wg sync.WaitGroup
}

func attachDrain(dio *cio.DirectIO) (cio.IO, error) {
	d := &drain{DirectIO: dio}
	for _, r := range []io.Reader{dio.Stdout, dio.Stderr} {
		if r == nil {
			continue
		}
		d.wg.Add(1)
		go func(r io.Reader) {
			defer d.wg.Done()
			_, _ = io.Copy(io.Discard, r)
		}(r)
	}
	return d, nil
}

func (d *drain) Wait() { d.wg.Wait() }

// spec is the busybox spec of every test (tests/fixtures/busybox_spec.json) running args.
func spec(rootfs, id string, args ...string) *specs.Spec {
	return busybox.Spec(rootfs, args, false, id, "/lcd-bench/"+id)
}

var metricLine = regexp.MustCompile(`^grpc_server_handled_total\{.*grpc_method="([^"]+)",grpc_service="(?:containerd\.services\.)?([^"]+)".*\} (\d+)`)

// rpcCounts is containerd's grpc_server_handled_total per method ("tasks.v1.Tasks/Create").
func rpcCounts() map[string]float64 {
	counts := map[string]float64{}
	resp, err := http.Get("http://" + os.Getenv("LCD_CONTAINERD_METRICS") + "/v1/metrics")
	if err != nil {
		return counts
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[3], 64)
			counts[m[2]+"/"+m[1]] += n
		}
	}
	return counts
}

type sampler struct {
	lat      map[string][]time.Duration
	rpcs     map[string]float64
	byMethod map[string]map[string]float64
	n        map[string]float64
}

// time runs op once, recording its latency and the RPCs containerd served meanwhile, by method.
func (s *sampler) time(name string, op func() error) error {
	before := rpcCounts()
	start := time.Now()
	err := op()
	elapsed := time.Since(start)
	if s.byMethod[name] == nil {
		s.byMethod[name] = map[string]float64{}
	}
	for method, n := range rpcCounts() {
		if d := n - before[method]; d > 0 {
			s.rpcs[name] += d
			s.byMethod[name][method] += d
		}
	}
	s.n[name]++
	s.lat[name] = append(s.lat[name], elapsed)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p)
	return float64(d[i].Microseconds()) / 1000
}

func measureOps(ctx context.Context, c libcontainerdtypes.Client, ev *exits, rootfs string, res *Result) error {
	s := &sampler{lat: map[string][]time.Duration{}, rpcs: map[string]float64{}, byMethod: map[string]map[string]float64{}, n: map[string]float64{}}
	for i := 0; i < *opsN; i++ {
		id := fmt.Sprintf("op%d", i)
		var ctr libcontainerdtypes.Container
		var tk libcontainerdtypes.Task
		steps := []struct {
			name string
			op   func() error
		}{
			{"new container", func() (err error) {
				ctr, err = c.NewContainer(ctx, id, spec(rootfs, id, "sleep", "1000"), "io.containerd.runc.v2", nil)
				return
			}},
			{"start", func() (err error) { tk, err = ctr.Start(ctx, "", false, attachDrain); return }},
			{"exec", func() error {
				done := ev.expect(id, "e")
				p, err := tk.Exec(ctx, "e", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, attachDrain)
				if err != nil {
					return err
				}
				<-done
				_, err = p.Delete(ctx)
				return err
			}},
			{"pause", func() error { return tk.Pause(ctx) }},
			{"resume", func() error { return tk.Resume(ctx) }},
			{"stats", func() error { _, err := tk.Stats(ctx); return err }},
			{"load container + attach task", func() error {
				loaded, err := c.LoadContainer(ctx, id)
				if err != nil {
					return err
				}
				_, err = loaded.AttachTask(ctx, attachDrain)
				return err
			}},
			{"kill", func() error {
				done := ev.expect(id, id)
				if err := tk.Kill(ctx, syscall.SIGKILL); err != nil {
					return err
				}
				<-done
				return nil
			}},
			{"delete task", func() error { _, err := tk.Delete(ctx); return err }},
			{"delete container", func() error { return ctr.Delete(ctx) }},
		}
		for _, step := range steps {
			if err := s.time(step.name, step.op); err != nil {
				return err
			}
		}
	}
	for name, d := range s.lat {
		res.OpLatencyMs[name] = map[string]float64{"p50": percentile(d, 0.5), "p99": percentile(d, 0.99)}
		res.OpRPCs[name] = s.rpcs[name] / s.n[name]
		res.OpRPCsByMethod[name] = map[string]float64{}
		for method, n := range s.byMethod[name] {
			res.OpRPCsByMethod[name][method] = n / s.n[name]
		}
	}
	return nil
}

// lifecycles runs n create/start/wait-exit/delete cycles at the given concurrency.
func lifecycles(ctx context.Context, c libcontainerdtypes.Client, ev *exits, rootfs string, conc, n int, prefix string) error {
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := fmt.Sprintf("%s-%d", prefix, i)
				done := ev.expect(id, id)
				ctr, err := c.NewContainer(ctx, id, spec(rootfs, id, "true"), "io.containerd.runc.v2", nil)
				if err != nil {
					errs <- err
					continue
				}
				tk, err := ctr.Start(ctx, "", false, attachDrain)
				if err != nil {
					errs <- err
					continue
				}
				<-done
				if _, err := tk.Delete(ctx); err != nil {
					errs <- err
				}
				if err := ctr.Delete(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

func threads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			return n
		}
	}
	return 0
}

// measureBoundary times a call answered from the handle (Task.Pid) and a Version round trip.
// With nativePath it asks the native-Rust program for blocks of the same calls between its
// own, alternating which goes first, so both sides are measured in the same moments: on this
// machine a round trip's cost drifts 2-5x within minutes (BENCHMARKS.md).
func measureBoundary(ctx context.Context, c libcontainerdtypes.Client, ev *exits, rootfs, nativePath string, res *Result) error {
	const blocks, callsPerBlock, pidCalls = 10, 200, 2_000_000
	var native *nativeCalls
	if nativePath != "" {
		var err error
		if native, err = startNative(nativePath); err != nil {
			return err
		}
		defer native.close()
	}
	for i := 0; i < 100; i++ {
		if _, err := c.Version(ctx); err != nil {
			return err
		}
	}
	var ours, theirs []float64
	var oursCost, theirsCost processCost // over all the blocks of each side
	goBlock := func() error {
		before := processCostNow()
		for i := 0; i < callsPerBlock; i++ {
			start := time.Now()
			if _, err := c.Version(ctx); err != nil {
				return err
			}
			ours = append(ours, float64(time.Since(start).Nanoseconds()))
		}
		oursCost.add(processCostNow().minus(before))
		return nil
	}
	nativeBlock := func() error {
		if native == nil {
			return nil
		}
		var answer struct {
			VersionNs       []float64 `json:"version_ns"`
			CPUNs           float64   `json:"cpu_ns"`
			ContextSwitches float64   `json:"context_switches"`
		}
		if err := native.ask(fmt.Sprintf("version %d", callsPerBlock), &answer); err != nil {
			return err
		}
		theirs = append(theirs, answer.VersionNs...)
		theirsCost.add(processCost{cpu: time.Duration(answer.CPUNs), contextSwitches: answer.ContextSwitches})
		return nil
	}
	if err := nativeBlock(); err != nil { // the native side's warm-up
		return err
	}
	theirs, theirsCost = theirs[:0], processCost{}
	for b := 0; b < blocks; b++ {
		first, second := goBlock, nativeBlock
		if b%2 == 1 {
			first, second = nativeBlock, goBlock
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	res.VersionUs, res.VersionP50Us = meanOf(ours)/1000, median(ours)/1000
	res.VersionCPUUs, res.VersionContextSwitches = oursCost.perCall(len(ours))
	if native != nil {
		res.NativeVersionUs, res.NativeVersionP50Us = meanOf(theirs)/1000, median(theirs)/1000
		res.NativeVersionCPUUs, res.NativeVersionContextSwitches = theirsCost.perCall(len(theirs))
		var answer struct {
			PidNs float64 `json:"pid_ns"`
		}
		if err := native.ask("pid 10000000", &answer); err != nil {
			return err
		}
		res.NativePidNs = answer.PidNs
	}
	ctr, err := c.NewContainer(ctx, "boundary", spec(rootfs, "boundary", "sleep", "1000"), "io.containerd.runc.v2", nil)
	if err != nil {
		return err
	}
	tk, err := ctr.Start(ctx, "", false, attachDrain)
	if err != nil {
		return err
	}
	start := time.Now()
	var sink uint32
	for i := 0; i < pidCalls; i++ {
		sink += tk.Pid()
	}
	res.PidNs = float64(time.Since(start).Nanoseconds()) / pidCalls
	if sink == 0 {
		return fmt.Errorf("pid is 0")
	}
	done := ev.expect("boundary", "boundary")
	if err := tk.Kill(ctx, syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	if _, err := tk.Delete(ctx); err != nil {
		return err
	}
	return ctr.Delete(ctx)
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	return processCostNow().cpu
}

// processCost is what the whole process (all its threads) spent: CPU time and context
// switches, voluntary and not.
type processCost struct {
	cpu             time.Duration
	contextSwitches float64
}

func processCostNow() processCost {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return processCost{cpu: time.Duration(u.Utime.Nano() + u.Stime.Nano()), contextSwitches: float64(u.Nvcsw + u.Nivcsw)}
}

func (c processCost) minus(earlier processCost) processCost {
	return processCost{cpu: c.cpu - earlier.cpu, contextSwitches: c.contextSwitches - earlier.contextSwitches}
}

func (c *processCost) add(more processCost) {
	c.cpu += more.cpu
	c.contextSwitches += more.contextSwitches
}

// perCall is the CPU time in microseconds and the context switches per call over calls.
func (c processCost) perCall(calls int) (cpuUs, contextSwitches float64) {
	if calls == 0 {
		return 0, 0
	}
	return float64(c.cpu.Microseconds()) / float64(calls), c.contextSwitches / float64(calls)
}

// rssMiB is the process's resident set size now (VmRSS).
func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// nativeCalls is a running examples/native_calls, answering one JSON line per request line.
type nativeCalls struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers *bufio.Scanner
}

func startNative(path string) (*nativeCalls, error) {
	cmd := exec.Command(path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the native boundary program: %w", err)
	}
	answers := bufio.NewScanner(out)
	answers.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	return &nativeCalls{cmd: cmd, in: in, answers: answers}, nil
}

func (n *nativeCalls) ask(request string, answer any) error {
	if _, err := fmt.Fprintln(n.in, request); err != nil {
		return fmt.Errorf("native boundary program: %w", err)
	}
	if !n.answers.Scan() {
		return fmt.Errorf("native boundary program gave no answer to %q: %v", request, n.answers.Err())
	}
	return json.Unmarshal(n.answers.Bytes(), answer)
}

// close ends its input, after which it deletes its task and container and exits.
func (n *nativeCalls) close() {
	n.in.Close()
	if err := n.cmd.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "lcdbench: native boundary program:", err)
	}
}

func meanOf(values []float64) float64 {
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	return mean(sum, float64(len(values)))
}
