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
	var oursByRound []Result
	for r := 0; r < *rounds; r++ {
		// The order swaps every round, so neither implementation always gets the same slot: in
		// run L (BENCHMARKS.md), with moby always first, moby's very first phase on a fresh
		// containerd ran up to half again as fast as its later ones.
		order := []string{"moby", "ours"}
		if r%2 == 1 {
			order = []string{"ours", "moby"}
		}
		for _, which := range order {
			growthCycles := 0
			if r == *rounds-1 {
				growthCycles = *growth
			}
			cmd := exec.Command(os.Args[0], "-impl", which, "-ops", fmt.Sprint(*opsN), "-lifecycles", fmt.Sprint(*cycles), "-concurrency", *concs,
				"-growth", fmt.Sprint(growthCycles), "-state-root", *stateRoot, "-native", *native)
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
			if which != "ours" {
				continue
			}
			oursByRound = append(oursByRound, res)
		}
	}
	// figure -> per implementation (0 moby, 1 ours): sum and count, for the mean over rounds.
	type acc struct{ sum, n [2]float64 }
	rows := map[string]*acc{}
	add := func(impl, key string, v float64) {
		row := rows[key]
		if row == nil {
			row = &acc{}
			rows[key] = row
		}
		i := 1
		if impl == "moby" {
			i = 0
		}
		row.sum[i] += v
		row.n[i]++
	}
	for _, r := range all {
		for op, v := range r.OpRPCs {
			add(r.Impl, "rpcs/"+op, v)
		}
		for op, methods := range r.OpRPCsByMethod {
			for method, v := range methods {
				add(r.Impl, "rpcs/"+op+" "+method, v)
			}
		}
		for op, v := range r.OpLatencyMs {
			add(r.Impl, "p50 ms/"+op, v["p50"])
			add(r.Impl, "p99 ms/"+op, v["p99"])
		}
		for c, v := range r.Throughput {
			add(r.Impl, "lifecycles/s at concurrency "+c, v)
		}
		for c, v := range r.CPUMsByConc {
			add(r.Impl, "client CPU ms per lifecycle at concurrency "+c, v)
		}
		add(r.Impl, "client CPU ms per lifecycle", r.CPUMsPerCycle)
		add(r.Impl, "event latency ms p50 (exit in the shim to ProcessEvent)", r.EventLatencyMs["p50"])
		add(r.Impl, "event latency ms p99 (exit in the shim to ProcessEvent)", r.EventLatencyMs["p99"])
		add(r.Impl, "boundary: ns per Task.Pid()", r.PidNs)
		add(r.Impl, "boundary: us per Client.Version()", r.VersionUs)
		add(r.Impl, "boundary: us per Client.Version(), median call", r.VersionP50Us)
		add(r.Impl, "boundary: process CPU us per Client.Version()", r.VersionCPUUs)
		add(r.Impl, "boundary: process context switches per Client.Version()", r.VersionContextSwitches)
		add(r.Impl, "peak RSS MiB", r.PeakRSSMiB)
		add(r.Impl, "RSS MiB after the throughput phase", r.RSSMiB)
		if r.GrowthCycles > 0 {
			add(r.Impl, fmt.Sprintf("RSS growth MiB over %d lifecycles (after a 10%% warm-up)", r.GrowthCycles), r.RSSGrowthMiB)
			add(r.Impl, "RSS growth MiB over the last 5 of its 9 steps", r.RSSGrowthLastHalfMiB)
			add(r.Impl, "RSS slope KiB per 1,000 lifecycles (10 samples)", r.RSSSlopeKiB)
			add(r.Impl, "C heap in use: growth KiB over them", r.CHeapGrowthKiB)
			add(r.Impl, "C heap in use: slope KiB per 1,000 lifecycles", r.CHeapSlopeKiB)
			add(r.Impl, "Go heap live: growth KiB over them", r.GoHeapGrowthKiB)
			add(r.Impl, "Go heap live: slope KiB per 1,000 lifecycles", r.GoHeapSlopeKiB)
		}
		add(r.Impl, "threads", float64(r.Threads))
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("machine: %s/%s, %d CPUs; %d rounds, each implementation in its own process, alternating; state directories under %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *rounds, *stateRoot)
	fmt.Printf("%-55s %12s %12s %8s\n", "figure (mean over rounds)", "ours", "moby", "ours/moby")
	table := map[string]map[string]float64{}
	for _, k := range keys {
		moby, ours := mean(rows[k].sum[0], rows[k].n[0]), mean(rows[k].sum[1], rows[k].n[1])
		ratio := 0.0
		if moby != 0 {
			ratio = ours / moby
		}
		fmt.Printf("%-55s %12.2f %12.2f %8.2f\n", k, ours, moby, ratio)
		table[k] = map[string]float64{"ours": ours, "moby": moby, "ratio": ratio}
	}
	out := map[string]any{"rounds": *rounds, "cpus": runtime.NumCPU(), "state_root": *stateRoot, "figures": table, "raw": all}
	if *native != "" && len(oursByRound) > 0 {
		// Per round the native calls ran in blocks between ours; the ratio of the means over
		// rounds, and the median of the per-round ratios, which one disturbed round does not move.
		type boundaryFigure struct {
			name          string
			ours, natives func(Result) float64
		}
		figures := []boundaryFigure{
			{"ns per task pid", func(r Result) float64 { return r.PidNs }, func(r Result) float64 { return r.NativePidNs }},
			{"us per Version (mean of the calls)", func(r Result) float64 { return r.VersionUs }, func(r Result) float64 { return r.NativeVersionUs }},
			{"us per Version (median call)", func(r Result) float64 { return r.VersionP50Us }, func(r Result) float64 { return r.NativeVersionP50Us }},
			{"process CPU us per Version", func(r Result) float64 { return r.VersionCPUUs }, func(r Result) float64 { return r.NativeVersionCPUUs }},
			{"process context switches per Version", func(r Result) float64 { return r.VersionContextSwitches }, func(r Result) float64 { return r.NativeVersionContextSwitches }},
		}
		fmt.Printf("\nC boundary: Go through the C ABI (ours) against native Rust calls made in blocks between ours; means over rounds\n")
		fmt.Printf("%-55s %12s %12s %8s %16s\n", "figure", "Go via C ABI", "native Rust", "ratio", "median of rounds")
		boundary := map[string]map[string]float64{}
		for _, f := range figures {
			var ours, natives float64
			var ratios []float64
			for _, r := range oursByRound {
				ours += f.ours(r)
				natives += f.natives(r)
				ratios = append(ratios, f.ours(r)/f.natives(r))
			}
			ours /= float64(len(oursByRound))
			natives /= float64(len(oursByRound))
			fmt.Printf("%-55s %12.2f %12.2f %8.2f %16.2f\n", f.name, ours, natives, ours/natives, median(ratios))
			boundary[f.name] = map[string]float64{"ours": ours, "native": natives, "ratio": ours / natives, "median_of_round_ratios": median(ratios)}
		}
		out["boundary"] = boundary
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "lcdbench:", err)
		os.Exit(1)
	}
}

func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}

func mean(sum, n float64) float64 {
	if n == 0 {
		return 0
	}
	return sum / n
}
