package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

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
