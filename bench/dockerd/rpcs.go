package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
)

var metricLine = regexp.MustCompile(`^grpc_server_handled_total\{.*grpc_method="([^"]+)",grpc_service="(?:containerd\.services\.)?([^"]+)".*\} (\d+)`)

// rpcCounts is containerd's grpc_server_handled_total per method ("tasks.v1.Tasks/Create"),
// read from the test bed's metrics address (LCD_CONTAINERD_METRICS).
func rpcCounts() (map[string]float64, error) {
	addr := os.Getenv("LCD_CONTAINERD_METRICS")
	if addr == "" {
		return nil, fmt.Errorf("LCD_CONTAINERD_METRICS is not set (run under tests/testbed.sh run --)")
	}
	resp, err := http.Get("http://" + addr + "/v1/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	counts := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[3], 64)
			counts[m[2]+"/"+m[1]] += n
		}
	}
	return counts, sc.Err()
}

// countRPCs runs each API operation `samples` times, one at a time with the other daemon idle,
// and returns the containerd RPCs per operation by method. It waits a moment after each
// operation, so that what dockerd does after answering (an exec's delete after its exit) counts.
func countRPCs(ctx context.Context, d *daemon, image string, samples int, res results) (map[string]map[string]float64, error) {
	id, err := d.runningContainer(ctx, image)
	if err != nil {
		return nil, err
	}
	defer d.cli.ContainerRemove(ctx, id, types.ContainerRemoveOptions{Force: true})
	ops := []struct {
		name string
		op   func(i int) error
	}{
		{"run --rm", func(int) error { return runOnce(ctx, d, image) }},
		{"exec", func(int) error { return execOnce(ctx, d, id) }},
		{"stats", func(int) error {
			st, err := d.cli.ContainerStatsOneShot(ctx, id)
			if err == nil {
				st.Body.Close()
			}
			return err
		}},
		{"top", func(int) error { _, err := d.cli.ContainerTop(ctx, id, nil); return err }},
		{"pause", func(int) error { return d.cli.ContainerPause(ctx, id) }},
		{"unpause", func(int) error { return d.cli.ContainerUnpause(ctx, id) }},
		{"update", func(i int) error {
			_, err := d.cli.ContainerUpdate(ctx, id, container.UpdateConfig{Resources: container.Resources{CPUShares: int64(512 + 512*(i%2))}})
			return err
		}},
	}
	time.Sleep(300 * time.Millisecond)
	out := map[string]map[string]float64{}
	totals := map[string]float64{}
	// One of each per pass, in order, so that pause and unpause alternate.
	for i := 0; i < samples; i++ {
		for _, op := range ops {
			if out[op.name] == nil {
				out[op.name] = map[string]float64{}
			}
			before, err := rpcCounts()
			if err != nil {
				return nil, err
			}
			if err := op.op(i); err != nil {
				return nil, fmt.Errorf("%s: %w", op.name, err)
			}
			time.Sleep(300 * time.Millisecond)
			after, err := rpcCounts()
			if err != nil {
				return nil, err
			}
			for m, n := range after {
				if delta := n - before[m]; delta > 0 {
					out[op.name][m] += delta / float64(samples)
					totals[op.name] += delta
				}
			}
		}
	}
	for _, op := range ops {
		res.add(d.name, "containerd RPCs per "+op.name, totals[op.name]/float64(samples))
	}
	return out, nil
}
