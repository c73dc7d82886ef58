package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
)

// driveRounds alternates the two implementations, each in its own process, and reports the
// mean of each figure per implementation with the ratio ours/moby.
func driveRounds() {
	var all []Result
	for r := 0; r < *rounds; r++ {
		for _, which := range []string{"moby", "ours"} {
			cmd := exec.Command(os.Args[0], "-impl", which, "-ops", fmt.Sprint(*opsN), "-lifecycles", fmt.Sprint(*cycles))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				fmt.Fprintf(os.Stderr, "lcdbench: round %d %s: %v\n", r, which, err)
				os.Exit(1)
			}
			var res Result
			if err := json.Unmarshal(out, &res); err != nil {
				fmt.Fprintf(os.Stderr, "lcdbench: round %d %s: %v\n", r, which, err)
				os.Exit(1)
			}
			all = append(all, res)
		}
	}
	rows := map[string][2]float64{} // figure -> [moby sum, ours sum]
	add := func(impl, key string, v float64) {
		row := rows[key]
		if impl == "moby" {
			row[0] += v
		} else {
			row[1] += v
		}
		rows[key] = row
	}
	for _, r := range all {
		for op, v := range r.OpRPCs {
			add(r.Impl, "rpcs/"+op, v)
		}
		for op, v := range r.OpLatencyMs {
			add(r.Impl, "p50 ms/"+op, v["p50"])
			add(r.Impl, "p99 ms/"+op, v["p99"])
		}
		for c, v := range r.Throughput {
			add(r.Impl, "lifecycles/s at concurrency "+c, v)
		}
		add(r.Impl, "client CPU ms per lifecycle", r.CPUMsPerCycle)
		add(r.Impl, "peak RSS MiB", r.PeakRSSMiB)
		add(r.Impl, "threads", float64(r.Threads))
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := float64(*rounds)
	fmt.Printf("machine: %s/%s, %d CPUs; %d rounds, each implementation in its own process, alternating\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *rounds)
	fmt.Printf("%-55s %12s %12s %8s\n", "figure (mean over rounds)", "ours", "moby", "ours/moby")
	table := map[string]map[string]float64{}
	for _, k := range keys {
		moby, ours := rows[k][0]/n, rows[k][1]/n
		ratio := 0.0
		if moby != 0 {
			ratio = ours / moby
		}
		fmt.Printf("%-55s %12.2f %12.2f %8.2f\n", k, ours, moby, ratio)
		table[k] = map[string]float64{"ours": ours, "moby": moby, "ratio": ratio}
	}
	b, _ := json.MarshalIndent(map[string]any{"rounds": *rounds, "cpus": runtime.NumCPU(), "figures": table, "raw": all}, "", "  ")
	if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "lcdbench:", err)
		os.Exit(1)
	}
}
