package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// daemon is one dockerd build under test, started the way tests/dockerd_e2e.sh starts it (no
// bridge, no iptables, vfs, live-restore) with a containerd namespace of its own, so that two
// daemons share the test bed's containerd without seeing each other's containers or events.
type daemon struct {
	name, bin, dir string
	cmd            *exec.Cmd
	exited         chan struct{}
	cli            *client.Client

	dieMu    sync.Mutex
	dieAt    map[string]time.Time // container id -> when dockerd published its die event
	dieReady chan struct{}        // closed when the event subscription is in place
}

func (d *daemon) socket() string { return filepath.Join(d.dir, "docker.sock") }
func (d *daemon) pid() int       { return d.cmd.Process.Pid }

func startDaemon(name, bin, base, containerdSocket, storageDriver string, debug bool) (*daemon, error) {
	d := &daemon{name: name, bin: bin, dir: filepath.Join(base, name), dieAt: map[string]time.Time{},
		dieReady: make(chan struct{}), exited: make(chan struct{})}
	removeDaemonDir(d.dir)
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(d.dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	args := []string{"--containerd=" + containerdSocket, "--data-root=" + filepath.Join(d.dir, "data"),
		"--exec-root=" + filepath.Join(d.dir, "exec"), "--pidfile=" + filepath.Join(d.dir, "docker.pid"),
		"-H", "unix://" + d.socket(), "--config-file=" + filepath.Join(d.dir, "daemon.json"),
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
		"--storage-driver=" + storageDriver, "--live-restore",
		"--containerd-namespace=bench-" + name, "--containerd-plugins-namespace=bench-" + name + "-plugins"}
	if debug {
		// -D also serves /debug/pprof on the API socket (and logs at debug level).
		args = append(args, "-D")
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { d.cmd.Wait(); logFile.Close(); close(d.exited) }()
	sock := d.socket()
	transport := &http.Transport{MaxIdleConnsPerHost: 128, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	d.cli, err = client.NewClientWithOpts(client.WithHTTPClient(&http.Client{Transport: transport}),
		client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.cli.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("dockerd-%s exited at start; see %s/dockerd.log", name, d.dir)
		default:
		}
		if i > 600 {
			d.stop()
			return nil, fmt.Errorf("dockerd-%s did not answer in 60 s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	go d.watchDieEvents()
	<-d.dieReady
	return d, nil
}

// watchDieEvents records when dockerd publishes each container's die event.
func (d *daemon) watchDieEvents() {
	f := filters.NewArgs(filters.Arg("type", "container"), filters.Arg("event", "die"))
	msgs, errs := d.cli.Events(context.Background(), types.EventsOptions{Filters: f})
	// The API answers the subscription's headers before it sends any event; give it a moment
	// to register (an event of a container made after this is never missed in practice).
	time.Sleep(200 * time.Millisecond)
	close(d.dieReady)
	for {
		select {
		case m := <-msgs:
			d.dieMu.Lock()
			d.dieAt[m.Actor.ID] = time.Unix(0, m.TimeNano)
			d.dieMu.Unlock()
		case <-errs:
			return
		}
	}
}

func (d *daemon) dieEventTime(id string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		d.dieMu.Lock()
		t, ok := d.dieAt[id]
		delete(d.dieAt, id)
		d.dieMu.Unlock()
		if ok || time.Now().After(deadline) {
			return t, ok
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (d *daemon) forgetDieEvents() {
	d.dieMu.Lock()
	d.dieAt = map[string]time.Time{}
	d.dieMu.Unlock()
}

// removeAll force-removes every container of this daemon (live-restore keeps them otherwise).
func (d *daemon) removeAll() {
	ctx := context.Background()
	list, err := d.cli.ContainerList(ctx, types.ContainerListOptions{All: true})
	if err != nil {
		return
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	d.remove(ctx, ids)
}

// remove force-removes the containers ids, 8 at a time.
func (d *daemon) remove(ctx context.Context, ids []string) {
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
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	removeDaemonDir(d.dir)
}

// removeDaemonDir unmounts what dockerd mounted under dir (its data root is bind-mounted onto
// itself) and removes dir.
func removeDaemonDir(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	os.RemoveAll(dir)
}

// procFigures is what /proc says about a process.
type procFigures struct {
	cpu     time.Duration // user + system, all threads, the dead ones included
	rssKiB  float64
	anonKiB float64 // RssAnon: what the process allocated, without the binary's pages
	threads float64
	fds     float64
}

var clockTicks = 100.0 // USER_HZ on Linux

func readProc(pid int) procFigures {
	var p procFigures
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+2:])
			if len(f) > 13 {
				u, _ := strconv.ParseFloat(f[11], 64)
				k, _ := strconv.ParseFloat(f[12], 64)
				p.cpu = time.Duration((u + k) / clockTicks * float64(time.Second))
			}
		}
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				p.rssKiB, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			} else if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
				p.anonKiB, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			} else if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				p.threads, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		p.fds = float64(len(ents))
	}
	return p
}

// runningContainer starts a container that stays up until removed.
func (d *daemon) runningContainer(ctx context.Context, image string) (string, error) {
	resp, err := d.cli.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"sleep", "1000000"}},
		&container.HostConfig{}, nil, nil, "")
	if err != nil {
		return "", err
	}
	return resp.ID, d.cli.ContainerStart(ctx, resp.ID, types.ContainerStartOptions{})
}
