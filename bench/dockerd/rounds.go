package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
)

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
