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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
