//go:build linux

package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// figure is one measured number, with what bosun aims for and what the reference operator (the Sail
// Operator) measured on the same load.
type figure struct {
	benchmark string
	// what says what was measured, for the summary table.
	what  string
	value float64
	// unit is the unit reported to the benchmark framework; it also names the figure on the benchmark's
	// line, so it is unique within a benchmark.
	unit string
	// target is the most bosun may need; noTarget when there is none.
	target float64
	// reference is the reference operator's figure, as its issue reports it; empty when unknown.
	reference string
}

// noTarget marks a figure measured for information.
const noTarget = -1

var figures struct {
	sync.Mutex
	list []figure
}

// report reports a figure as a metric of the benchmark and keeps it for the summary table.
func report(b *testing.B, f figure) {
	b.Helper()
	f.benchmark = strings.TrimPrefix(b.Name(), "Benchmark")
	b.ReportMetric(f.value, f.unit)
	figures.Lock()
	figures.list = append(figures.list, f)
	figures.Unlock()
	verdict := ""
	if f.target != noTarget {
		verdict = fmt.Sprintf(" (target ≤ %s: %s)", format(f.target), met(f))
	}
	progress("%s: %s = %s %s%s", f.benchmark, f.what, format(f.value), f.unit, verdict)
}

// measureOnce suppresses the framework's ns/op, which would only be the benchmark's own duration, and
// refuses to measure several times in one run: each benchmark's figures come from one run of its
// scenario. A benchmark whose first run takes longer than -benchtime is not run again; -benchtime 1x
// makes sure of it.
func measureOnce(b *testing.B) {
	b.Helper()
	if b.N != 1 {
		b.Fatalf("b.N = %d: run the operator benchmarks with -benchtime 1x; each measures its scenario once", b.N)
	}
	b.ReportMetric(0, "ns/op")
}

func met(f figure) string {
	if f.value <= f.target {
		return "met"
	}
	return "MISSED"
}

func format(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// printFigures prints every figure of the run beside its target and the reference figure.
func printFigures(w io.Writer) {
	figures.Lock()
	defer figures.Unlock()
	if len(figures.list) == 0 {
		return
	}
	list := slices.SortedStableFunc(slices.Values(figures.list), func(a, b figure) int { return cmp.Compare(a.benchmark, b.benchmark) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nbenchmark\tfigure\tvalue\ttarget\tverdict\treference")
	for _, f := range list {
		target, verdict := "", ""
		if f.target != noTarget {
			target, verdict = "≤ "+format(f.target)+" "+f.unit, met(f)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\n", f.benchmark, f.what, format(f.value), f.unit, target, verdict, f.reference)
	}
	tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// round rounds v to the given number of decimals, for figures whose last digits are noise.
func round(v float64, decimals int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', decimals, 64), 64)
	return f
}

// reportRSS reports the operator's resident memory in a sample as a figure, and its anonymous part
// (what the operator allocated, without the binary's mapped pages) as another, with unit
// "<unit>-anon"; the progress line also gives the Go heap in use.
func reportRSS(b *testing.B, s sample, what, unit string, target float64, reference string) {
	b.Helper()
	progress("%s: %s: %s; Go heap in use %.1f MiB; %d major page faults so far", strings.TrimPrefix(b.Name(), "Benchmark"), what, s.memory,
		s.metrics.sum("go_memstats_heap_inuse_bytes", nil)/(1<<20), s.majorFaults)
	report(b, figure{what: what, value: mib(s.memory.rss), unit: unit, target: target, reference: reference})
	report(b, figure{what: "… of which anonymous (RssAnon)", value: mib(s.memory.anon), unit: unit + "-anon", target: noTarget})
}

// reportCgroup reports, when the operator runs in a memory cgroup (-container-memory), how many times
// the kernel killed it for lack of memory and how many pages it had to read from disk again (major
// page faults), which counts how hard the limit squeezed the pages of its binary. The group's own
// peak says little: the kernel fills a group with page cache up to its limit.
func reportCgroup(b *testing.B, p *operatorProcess, s sample, prefix string) {
	b.Helper()
	if p.cgroup == nil {
		return
	}
	kills, err := p.cgroup.oomKills()
	if err != nil {
		b.Fatal(err)
	}
	report(b, figure{what: "OOM kills in the operator's " + *containerMemory + " cgroup", value: float64(kills), unit: prefix + "oom-kills", target: 0})
	report(b, figure{what: "major page faults of the operator in its " + *containerMemory + " cgroup", value: float64(s.majorFaults), unit: prefix + "major-faults", target: noTarget})
}

// mib converts bytes to MiB, rounded to one decimal.
func mib(bytes int64) float64 { return round(float64(bytes)/(1<<20), 1) }
