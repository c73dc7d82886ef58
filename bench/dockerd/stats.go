package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
)

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
	defer d.remove(ctx, ids)
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
