// Command dockerdbench compares two dockerd builds (dockerd-lcd, linked with libcontainerd-ffi,
// and dockerd-stock) through the Docker Engine API with moby's own Go client, both on the test
// bed's containerd, alternating in rounds, and prints each figure for both and their ratio.
//
//	tests/testbed.sh run -- build/dockerdbench -lcd build/dockerd/bin/dockerd-24-lcd \
//	    -stock build/dockerd/bin/dockerd-24-stock -rootfs "$LCD_TEST_ROOTFS"
//
// The two daemons run side by side for the whole run (each with its own data root, exec root
// and containerd namespace); only one is driven at a time. See BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
)

type options struct {
	rounds, lifecycles, ops, growth, statsSeconds int
	concurrency, execConcurrency, statsCounts     []int
	rpcSamples                                    int
}

// results holds, per daemon name, each figure's value per round.
type results map[string]map[string][]float64

func (r results) add(daemon, figure string, v float64) {
	if r[daemon] == nil {
		r[daemon] = map[string][]float64{}
	}
	r[daemon][figure] = append(r[daemon][figure], v)
}

func main() {
	lcdBin := flag.String("lcd", "build/dockerd/bin/dockerd-24-lcd", "the dockerd linked with the library")
	stockBin := flag.String("stock", "build/dockerd/bin/dockerd-24-stock", "the stock dockerd of the same version")
	rootfs := flag.String("rootfs", os.Getenv("LCD_TEST_ROOTFS"), "root filesystem the busybox image is made of")
	imageScript := flag.String("image-script", "dockerd/busybox_image.py", "writes the busybox docker-archive")
	socket := flag.String("containerd", os.Getenv("LCD_CONTAINERD_SOCKET"), "containerd socket")
	dir := flag.String("dir", defaultDir(), "where the daemons keep their data and exec roots (default: under /dev/shm when it is a tmpfs)")
	containerdPidFile := flag.String("containerd-pidfile", filepath.Join(envOr("LCD_TESTBED_DIR", "/tmp/lcd-testbed"), "containerd.pid"), "for containerd's CPU")
	jsonOut := flag.String("json", "", "write every per-round figure here")
	quick := flag.Bool("quick", false, "a smoke run: 1 round, few operations, concurrency 1 and 8, stats over 5 containers, no growth phase")
	storageDriver := flag.String("storage-driver", "vfs", "the daemons' graph driver (vfs as in tests/dockerd_e2e.sh; its copy of the image is most of dockerd's CPU per container)")
	debug := flag.Bool("debug", false, "start the daemons with -D (pprof on the API socket; changes the figures)")
	o := options{}
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; the daemon driven first alternates")
	flag.IntVar(&o.lifecycles, "lifecycles", 64, "run --rm lifecycles per concurrency level and round (at least 2x the concurrency)")
	flag.IntVar(&o.ops, "ops", 30, "samples per round of exec, top, pause/unpause, update and die latency")
	flag.IntVar(&o.growth, "growth", 5000, "lifecycles at concurrency 8 after the last round, before the second resource reading (0: none)")
	flag.IntVar(&o.statsSeconds, "stats-seconds", 10, "seconds of streaming stats over the largest container count (dockerd's 1 s collector)")
	flag.IntVar(&o.rpcSamples, "rpc-samples", 3, "operations of each kind counted (first round) for RPCs per operation")
	concurrency := flag.String("concurrency", "1,8,32", "run --rm concurrency levels")
	execConcurrency := flag.String("exec-concurrency", "1,8", "exec concurrency levels")
	statsCounts := flag.String("stats", "20,50", "running container counts for one-shot stats")
	flag.Parse()
	if *quick { // smaller defaults; flags given explicitly still win
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, value := range map[string]string{"rounds": "1", "lifecycles": "16", "ops": "8", "growth": "0",
			"stats-seconds": "2", "rpc-samples": "1", "concurrency": "1,8", "stats": "5"} {
			if !set[name] {
				flag.Set(name, value)
			}
		}
	}
	o.concurrency, o.execConcurrency, o.statsCounts = ints(*concurrency), ints(*execConcurrency), ints(*statsCounts)
	if *socket == "" || *rootfs == "" {
		fail("LCD_CONTAINERD_SOCKET and LCD_TEST_ROOTFS are not set (run under tests/testbed.sh run --)")
	}
	containerdPid := 0
	if b, err := os.ReadFile(*containerdPidFile); err == nil {
		containerdPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}

	imageTar := filepath.Join(*dir, "busybox.tar")
	os.MkdirAll(*dir, 0o755)
	const image = "busybox:lcd-bench"
	if out, err := exec.Command("python3", *imageScript, *rootfs, imageTar, image).CombinedOutput(); err != nil {
		fail("busybox image: %v: %s", err, out)
	}

	var daemons []*daemon
	var daemonsMu sync.Mutex
	cleanup := func() {
		daemonsMu.Lock()
		defer daemonsMu.Unlock()
		for _, d := range daemons {
			d.removeAll()
			d.stop()
		}
		daemons = nil
		os.Remove(imageTar)
		os.Remove(*dir) // only when empty: it may be a directory the caller named
	}
	cleanupHook = cleanup
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; cleanup(); os.Exit(130) }()
	defer cleanup()

	res := results{}
	byMethod := map[string]map[string]map[string]float64{} // daemon -> operation -> method -> per op
	for _, v := range []struct{ name, bin string }{{"lcd", *lcdBin}, {"stock", *stockBin}} {
		d, err := startDaemon(v.name, v.bin, *dir, *socket, *storageDriver, *debug)
		if err != nil {
			cleanup()
			fail("%v", err)
		}
		daemonsMu.Lock()
		daemons = append(daemons, d)
		daemonsMu.Unlock()
		f, err := os.Open(imageTar)
		if err != nil {
			fail("%v", err)
		}
		resp, err := d.cli.ImageLoad(context.Background(), f, true)
		if err != nil {
			fail("dockerd-%s: image load: %v", v.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		f.Close()
	}
	// At rest: both started and idle, the image loaded, no container run yet.
	time.Sleep(restSettle)
	for _, d := range daemons {
		p := readProc(d.pid())
		res.add(d.name, "at rest after start: RSS MiB", p.rssKiB/1024)
		res.add(d.name, "at rest after start: RSS anon MiB", p.anonKiB/1024)
		res.add(d.name, "at rest after start: descriptors", p.fds)
		res.add(d.name, "at rest after start: threads", p.threads)
	}

	ctx := context.Background()
	for round := 0; round < o.rounds; round++ {
		order := []*daemon{daemons[0], daemons[1]}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, d := range order {
			start := time.Now()
			if err := runRound(ctx, d, image, o, res, containerdPid); err != nil {
				fail("round %d, dockerd-%s: %v", round+1, d.name, err)
			}
			if round == 0 {
				m, err := countRPCs(ctx, d, image, o.rpcSamples, res)
				if err != nil {
					fail("RPC counts, dockerd-%s: %v", d.name, err)
				}
				byMethod[d.name] = m
			}
			fmt.Fprintf(os.Stderr, "round %d/%d: dockerd-%s done in %.0f s\n", round+1, o.rounds, d.name, time.Since(start).Seconds())
		}
	}
	// At rest again, after the rounds: every client the daemon uses is connected by now.
	time.Sleep(restSettle)
	for _, d := range daemons {
		p := readProc(d.pid())
		res.add(d.name, "at rest after the rounds: RSS MiB", p.rssKiB/1024)
		res.add(d.name, "at rest after the rounds: RSS anon MiB", p.anonKiB/1024)
		res.add(d.name, "at rest after the rounds: descriptors", p.fds)
		res.add(d.name, "at rest after the rounds: threads", p.threads)
	}
	if o.growth > 0 {
		for _, d := range daemons {
			start := time.Now()
			if _, err := runLifecycles(ctx, d, image, o.growth, 8); err != nil {
				fail("growth, dockerd-%s: %v", d.name, err)
			}
			time.Sleep(restSettle)
			p := readProc(d.pid())
			label := fmt.Sprintf("after %d more lifecycles", o.growth)
			res.add(d.name, label+": RSS MiB", p.rssKiB/1024)
			res.add(d.name, label+": RSS anon MiB", p.anonKiB/1024)
			res.add(d.name, label+": descriptors", p.fds)
			res.add(d.name, label+": threads", p.threads)
			fmt.Fprintf(os.Stderr, "growth: dockerd-%s, %d lifecycles in %.0f s\n", d.name, o.growth, time.Since(start).Seconds())
		}
	}
	report(res, byMethod, o)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"figures": res, "rpcs_by_method": byMethod, "options": fmt.Sprintf("%+v", o)}, "", "  ")
		os.WriteFile(*jsonOut, b, 0o644)
	}
}

func runRound(ctx context.Context, d *daemon, image string, o options, res results, containerdPid int) error {
	// run --rm at each concurrency level.
	var cpuAll time.Duration
	var nAll int
	for _, c := range o.concurrency {
		n := o.lifecycles
		if n < 2*c {
			n = 2 * c
		}
		before, cBefore := readProc(d.pid()), readProc(containerdPid)
		start := time.Now()
		lat, err := runLifecycles(ctx, d, image, n, c)
		if err != nil {
			return err
		}
		wall := time.Since(start)
		after, cAfter := readProc(d.pid()), readProc(containerdPid)
		cpuAll += after.cpu - before.cpu
		nAll += n
		res.add(d.name, fmt.Sprintf("run --rm c=%d: p50 ms", c), pct(lat, 50))
		res.add(d.name, fmt.Sprintf("run --rm c=%d: p99 ms", c), pct(lat, 99))
		res.add(d.name, fmt.Sprintf("run --rm c=%d: containers/s", c), float64(n)/wall.Seconds())
		res.add(d.name, fmt.Sprintf("run --rm c=%d: dockerd CPU ms per lifecycle", c), ms(after.cpu-before.cpu)/float64(n))
		if containerdPid > 0 {
			res.add(d.name, fmt.Sprintf("run --rm c=%d: containerd CPU ms per lifecycle", c), ms(cAfter.cpu-cBefore.cpu)/float64(n))
		}
	}
	res.add(d.name, "run --rm: dockerd CPU ms per lifecycle, all levels", ms(cpuAll)/float64(nAll))

	// exec into one running container.
	id, err := d.runningContainer(ctx, image)
	if err != nil {
		return fmt.Errorf("exec container: %w", err)
	}
	var execCPU time.Duration
	var execN int
	for _, c := range o.execConcurrency {
		n := o.ops
		if n < 4*c {
			n = 4 * c
		}
		before := readProc(d.pid())
		lat, err := parallel(n, c, func() error { return execOnce(ctx, d, id) })
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		execCPU += readProc(d.pid()).cpu - before.cpu
		execN += n
		res.add(d.name, fmt.Sprintf("exec c=%d: p50 ms", c), pct(lat, 50))
		res.add(d.name, fmt.Sprintf("exec c=%d: p99 ms", c), pct(lat, 99))
	}
	res.add(d.name, "exec: dockerd CPU ms per exec", ms(execCPU)/float64(execN))

	// top, pause/unpause, update on the same container.
	ops := []struct {
		name string
		op   func(i int) error
	}{
		{"top", func(int) error { _, err := d.cli.ContainerTop(ctx, id, nil); return err }},
		{"pause", func(int) error { return d.cli.ContainerPause(ctx, id) }},
		{"unpause", func(int) error { return d.cli.ContainerUnpause(ctx, id) }},
		{"update", func(i int) error {
			_, err := d.cli.ContainerUpdate(ctx, id, container.UpdateConfig{Resources: container.Resources{CPUShares: int64(512 + 512*(i%2))}})
			return err
		}},
	}
	lat := map[string][]time.Duration{}
	for i := 0; i < o.ops; i++ {
		for _, op := range ops {
			t := time.Now()
			if err := op.op(i); err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
			lat[op.name] = append(lat[op.name], time.Since(t))
		}
	}
	for _, op := range ops {
		res.add(d.name, op.name+": p50 ms", pct(lat[op.name], 50))
	}
	if err := d.cli.ContainerRemove(ctx, id, types.ContainerRemoveOptions{Force: true}); err != nil {
		return err
	}

	// exit-to-die: the exit time the shim recorded (State.FinishedAt) to dockerd's die event.
	var dieLat []time.Duration
	for i := 0; i < o.ops; i++ {
		resp, err := d.cli.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"true"}}, &container.HostConfig{}, nil, nil, "")
		if err != nil {
			return err
		}
		waitC, errC := d.cli.ContainerWait(ctx, resp.ID, container.WaitConditionNotRunning)
		if err := d.cli.ContainerStart(ctx, resp.ID, types.ContainerStartOptions{}); err != nil {
			return err
		}
		select {
		case <-waitC:
		case err := <-errC:
			return err
		}
		at, ok := d.dieEventTime(resp.ID, 10*time.Second)
		info, err := d.cli.ContainerInspect(ctx, resp.ID)
		if err != nil {
			return err
		}
		finished, _ := time.Parse(time.RFC3339Nano, info.State.FinishedAt)
		if ok && !finished.IsZero() {
			dieLat = append(dieLat, at.Sub(finished))
		}
		d.cli.ContainerRemove(ctx, resp.ID, types.ContainerRemoveOptions{})
	}
	if len(dieLat) > 0 {
		res.add(d.name, "exit to die event: p50 ms", pct(dieLat, 50))
		res.add(d.name, "exit to die event: p99 ms", pct(dieLat, 99))
	}
	d.forgetDieEvents()

	return statsPhase(ctx, d, image, o, res, containerdPid)
}

// statsPhase: one-shot stats of every container at once (as `docker stats --no-stream` asks for
// all of them), then streaming stats of all of them for a while (dockerd's collector asks
// containerd for each container once a second).
func statsPhase(ctx context.Context, d *daemon, image string, o options, res results, containerdPid int) error {
	if len(o.statsCounts) == 0 {
		return nil
	}
	most := o.statsCounts[len(o.statsCounts)-1]
	ids := make([]string, most)
	for i := range ids {
		id, err := d.runningContainer(ctx, image)
		if err != nil {
			return fmt.Errorf("stats container: %w", err)
		}
		ids[i] = id
	}
	defer func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func(id string) {
				defer wg.Done()
				d.cli.ContainerRemove(ctx, id, types.ContainerRemoveOptions{Force: true})
				<-sem
			}(id)
		}
		wg.Wait()
	}()
	for _, n := range o.statsCounts {
		var sweeps []time.Duration
		for s := 0; s < 3; s++ {
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for _, id := range ids[:n] {
				wg.Add(1)
				go func(id string) {
					defer wg.Done()
					st, err := d.cli.ContainerStatsOneShot(ctx, id)
					if err != nil {
						errs <- err
						return
					}
					var v types.StatsJSON
					err = json.NewDecoder(st.Body).Decode(&v)
					st.Body.Close()
					if err == nil && v.MemoryStats.Usage == 0 && v.PidsStats.Current == 0 {
						err = fmt.Errorf("stats of %s came back empty", id)
					}
					if err != nil {
						errs <- err
					}
				}(id)
			}
			wg.Wait()
			sweeps = append(sweeps, time.Since(start))
			select {
			case err := <-errs:
				return fmt.Errorf("stats: %w", err)
			default:
			}
		}
		res.add(d.name, fmt.Sprintf("stats one-shot over %d containers: ms (median of 3 sweeps)", n), pct(sweeps, 50))
	}
	if o.statsSeconds <= 0 {
		return nil
	}
	// Streaming stats of all of them: what the 1 s collector costs.
	sctx, cancel := context.WithCancel(ctx)
	var frames sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for _, id := range ids {
		st, err := d.cli.ContainerStats(sctx, id, true)
		if err != nil {
			cancel()
			return err
		}
		frames.Add(1)
		go func(body io.ReadCloser) {
			defer frames.Done()
			defer body.Close()
			dec := json.NewDecoder(body)
			for {
				var v types.StatsJSON
				if dec.Decode(&v) != nil {
					return
				}
				mu.Lock()
				count++
				mu.Unlock()
			}
		}(st.Body)
	}
	time.Sleep(1500 * time.Millisecond) // the first frames
	before, cBefore := readProc(d.pid()), readProc(containerdPid)
	mu.Lock()
	count = 0
	mu.Unlock()
	start := time.Now()
	time.Sleep(time.Duration(o.statsSeconds) * time.Second)
	after, cAfter := readProc(d.pid()), readProc(containerdPid)
	mu.Lock()
	got := count
	mu.Unlock()
	elapsed := time.Since(start).Seconds()
	cancel()
	frames.Wait()
	res.add(d.name, fmt.Sprintf("streaming stats of %d: dockerd CPU ms per second", most), ms(after.cpu-before.cpu)/elapsed)
	if containerdPid > 0 {
		res.add(d.name, fmt.Sprintf("streaming stats of %d: containerd CPU ms per second", most), ms(cAfter.cpu-cBefore.cpu)/elapsed)
	}
	res.add(d.name, fmt.Sprintf("streaming stats of %d: frames per second", most), float64(got)/elapsed)
	return nil
}

// runLifecycles runs n containers `docker run --rm busybox true`-style at concurrency c: create
// with AutoRemove, wait for "removed" (set up before the start, as the CLI does), start.
func runLifecycles(ctx context.Context, d *daemon, image string, n, c int) ([]time.Duration, error) {
	return parallel(n, c, func() error { return runOnce(ctx, d, image) })
}

func runOnce(ctx context.Context, d *daemon, image string) error {
	resp, err := d.cli.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"true"}},
		&container.HostConfig{AutoRemove: true}, nil, nil, "")
	if err != nil {
		return err
	}
	waitC, errC := d.cli.ContainerWait(ctx, resp.ID, container.WaitConditionRemoved)
	if err := d.cli.ContainerStart(ctx, resp.ID, types.ContainerStartOptions{}); err != nil {
		return err
	}
	select {
	case w := <-waitC:
		if w.StatusCode != 0 || w.Error != nil {
			return fmt.Errorf("container %s: exit %d %v", resp.ID, w.StatusCode, w.Error)
		}
		return nil
	case err := <-errC:
		return err
	}
}

// execOnce is `docker exec ID true`: create, start attached, read to the end, inspect.
func execOnce(ctx context.Context, d *daemon, id string) error {
	ex, err := d.cli.ContainerExecCreate(ctx, id, types.ExecConfig{Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return err
	}
	att, err := d.cli.ContainerExecAttach(ctx, ex.ID, types.ExecStartCheck{})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, att.Reader)
	att.Close()
	info, err := d.cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return err
	}
	if info.Running || info.ExitCode != 0 {
		return fmt.Errorf("exec %s: running %v, exit %d", ex.ID, info.Running, info.ExitCode)
	}
	return nil
}

// parallel runs op n times on c goroutines and returns each call's latency.
func parallel(n, c int, op func() error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				err := op()
				lat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, firstErr
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return ms(s[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func report(res results, byMethod map[string]map[string]map[string]float64, o options) {
	fmt.Printf("%d round(s), the daemon driven first alternating; %d lifecycles per run level, %d samples of the other operations; mean over rounds\n",
		o.rounds, o.lifecycles, o.ops)
	names := map[string]bool{}
	for _, figs := range res {
		for f := range figs {
			names[f] = true
		}
	}
	var sorted []string
	for f := range names {
		sorted = append(sorted, f)
	}
	sort.Strings(sorted)
	fmt.Printf("%-70s %10s %10s %10s\n", "figure", "lcd", "stock", "lcd/stock")
	for _, f := range sorted {
		l, s := mean(res["lcd"][f]), mean(res["stock"][f])
		fmt.Printf("%-70s %10.2f %10.2f %10.2f\n", f, l, s, l/s)
	}
	if len(byMethod) > 0 {
		fmt.Println("\ncontainerd RPCs per API operation, by method (lcd | stock):")
		var opsNames []string
		for op := range byMethod["lcd"] {
			opsNames = append(opsNames, op)
		}
		sort.Strings(opsNames)
		for _, op := range opsNames {
			fmt.Printf("  %-10s lcd:   %s\n  %-10s stock: %s\n", op, methods(byMethod["lcd"][op]), "", methods(byMethod["stock"][op]))
		}
	}
}

func methods(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %g", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			fail("not a positive number: %q", f)
		}
		out = append(out, n)
	}
	return out
}

// defaultDir is on a tmpfs when there is one: dockerd's exec root is a tmpfs on systemd hosts,
// and on this project's ext4 /tmp every inode created in a directory with many recent deletions
// scans for inodes not "recently deleted" (the vfs driver's copy of the image made that most
// of both daemons' CPU per container), which only dilutes the comparison.
func defaultDir() string {
	name := filepath.Base(envOr("LCD_E2E_DIR", "lcd-bench-dockerd"))
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
		return filepath.Join("/dev/shm", name)
	}
	return filepath.Join(os.TempDir(), name)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// cleanupHook stops the daemons (and removes their containers) when the run fails.
var cleanupHook = func() {}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "dockerdbench: "+format+"\n", a...)
	cleanupHook()
	os.Exit(1)
}

// restSettle is how long a daemon is left idle before a reading "at rest".
const restSettle = 5 * time.Second
