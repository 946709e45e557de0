//go:build linux

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// operatorProcess is a running bosun-operator.
type operatorProcess struct {
	cmd        *exec.Cmd
	metricsURL string
	logPath    string
	// cgroup is the memory cgroup the operator runs in with -container-memory, else nil.
	cgroup *memoryCgroup
	// exited is closed once the process has exited and been reaped.
	exited chan struct{}
}

// stopGrace is how long the operator gets to stop after SIGTERM (it releases its lease) before it is
// killed.
const stopGrace = 30 * time.Second

// startOperator starts bosun-operator against the cluster, as production runs it but on loopback
// ports, and returns once it leads. It is stopped when the benchmark ends, if not before.
func startOperator(b *testing.B, c *cluster, extra ...string) *operatorProcess {
	b.Helper()
	ports, err := freePorts(2)
	if err != nil {
		b.Fatal(err)
	}
	logFile, err := os.CreateTemp(env.dir, "operator-*.log")
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	args := []string{
		"--kubeconfig", c.KubeconfigPath(),
		"--resources-dir", env.resources,
		"--versions-file", env.versionsFile,
		"--platform", "kubernetes",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--leader-election-namespace", "kube-system",
	}
	args = append(args, extra...)
	args = append(args, strings.Fields(*operatorArgs)...)
	cmd := exec.Command(env.operator, args...)
	var cg *memoryCgroup
	if *containerMemory != "" {
		if cg, err = newMemoryCgroup(*containerMemory); err != nil {
			b.Fatal(err)
		}
		if err := evictFromPageCache(env.operator); err != nil {
			b.Fatal(err)
		}
		// The shell moves itself into the group and becomes the operator, which starts there.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0" && exec "$@"`, cg.procs(), env.operator}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills the operator if the benchmark process dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if cg != nil {
			err = errors.Join(err, cg.remove())
		}
		b.Fatal(err)
	}
	p := &operatorProcess{cmd: cmd, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]), logPath: logFile.Name(), cgroup: cg, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		if cg != nil {
			if err := cg.remove(); err != nil {
				progress("removing the operator's cgroup: %v", err)
			}
		}
		close(p.exited)
	}()
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("operator log (%s), last lines:\n%s", p.logPath, p.logTail(40))
		}
		p.stop()
	})
	if err := p.waitLeading(2 * time.Minute); err != nil {
		b.Fatalf("the operator did not lead: %v\n%s", err, p.logTail(40))
	}
	return p
}

// waitLeading waits until the operator's metrics say it holds the leader lease.
func (p *operatorProcess) waitLeading(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("the operator exited")
		default:
		}
		var m metrics
		if m, err = p.metrics(); err == nil {
			if m.sum("leader_election_master_status", nil) == 1 {
				return nil
			}
			err = errors.New("not leading yet")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// stop sends SIGTERM to the operator, and kills it if it has not exited after stopGrace.
func (p *operatorProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *operatorProcess) pid() int { return p.cmd.Process.Pid }

// logTail returns the last n lines of the operator's log.
func (p *operatorProcess) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// memory is what the kernel says of the operator's memory, in bytes.
type memory struct {
	// rss is the resident set now (VmRSS); peak is its high-water mark (VmHWM) since the process
	// started or resetPeak.
	rss, peak int64
	// anon is the part of rss the operator allocated (RssAnon: heap, stacks, the runtime's own);
	// file is the part that maps the binary (RssFile), pages the kernel may drop and read again.
	anon, file int64
}

func (m memory) String() string {
	return fmt.Sprintf("RSS %.1f MiB (anonymous %.1f, file %.1f), peak %.1f MiB", mib(m.rss), mib(m.anon), mib(m.file), mib(m.peak))
}

// memory reads the operator's memory from /proc/<pid>/status.
func (p *operatorProcess) memory() (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return memory{}, err
	}
	var m memory
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.peak, "RssAnon": &m.anon, "RssFile": &m.file}
	for line := range strings.Lines(string(data)) {
		name, value, _ := strings.Cut(line, ":")
		field, ok := fields[name]
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %q: %w", name, value, err)
		}
		*field = kb << 10
	}
	return m, nil
}

// resetPeak sets the operator's VmHWM to its current RSS (Linux's clear_refs, value 5), so that the
// next reading of the peak covers only what happens from now on.
func (p *operatorProcess) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid()), []byte("5"), 0)
}

// clockTicks is the unit of the CPU times of /proc/<pid>/stat: USER_HZ, 100 on every Linux Go runs on.
const clockTicks = 100

// stat reads from /proc/<pid>/stat the CPU time the operator has used, user and system, and its major
// page faults: reads of pages from disk, which under a memory limit are mostly the binary's pages the
// kernel reclaimed and the operator needed again.
func (p *operatorProcess) stat() (cpu time.Duration, majorFaults int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces. Counting from the field after
	// it, majflt (field 12) is the 10th, utime and stime (14, 15) the 12th and 13th.
	end := bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", p.pid())
	}
	var n [3]int64
	for i, f := range []string{fields[9], fields[11], fields[12]} {
		if n[i], err = strconv.ParseInt(f, 10, 64); err != nil {
			return 0, 0, err
		}
	}
	return time.Duration(n[1]+n[2]) * time.Second / clockTicks, n[0], nil
}

// sample is one reading of the operator: its metrics, CPU time and memory.
type sample struct {
	at      time.Time
	metrics metrics
	cpu     time.Duration
	// majorFaults counts the operator's reads of pages from disk so far.
	majorFaults int64
	memory      memory
}

// sample reads the operator's metrics, CPU time and memory, failing the benchmark if it cannot.
func (p *operatorProcess) sample(b *testing.B) sample {
	b.Helper()
	m, err := p.metrics()
	if err != nil {
		b.Fatal(err)
	}
	cpu, faults, err := p.stat()
	if err != nil {
		b.Fatal(err)
	}
	mem, err := p.memory()
	if err != nil {
		b.Fatal(err)
	}
	return sample{at: time.Now(), metrics: m, cpu: cpu, majorFaults: faults, memory: mem}
}

// metrics are the operator's metric families, by name.
type metrics map[string]*dto.MetricFamily

// metrics scrapes the operator's metrics endpoint.
func (p *operatorProcess) metrics() (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", p.metricsURL, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// series calls f with the labels and value of each series of a counter, gauge or histogram (its
// sample count) whose labels include the given ones.
func (m metrics) series(name string, labels map[string]string, f func(labels map[string]string, value float64)) {
	for _, s := range m.matching(name, labels) {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		switch {
		case s.Counter != nil:
			f(have, s.GetCounter().GetValue())
		case s.Gauge != nil:
			f(have, s.GetGauge().GetValue())
		case s.Histogram != nil:
			f(have, float64(s.GetHistogram().GetSampleCount()))
		}
	}
}

// matching returns the series of a metric whose labels include the given ones.
func (m metrics) matching(name string, labels map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, s := range m[name].GetMetric() {
		matched := 0
		for _, l := range s.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				matched++
			}
		}
		if matched == len(labels) {
			out = append(out, s)
		}
	}
	return out
}

// sum adds up the series of a metric whose labels include the given ones.
func (m metrics) sum(name string, labels map[string]string) float64 {
	var total float64
	m.series(name, labels, func(_ map[string]string, v float64) { total += v })
	return total
}

// histogramSum adds up the sums of a histogram's series whose labels include the given ones.
func (m metrics) histogramSum(name string, labels map[string]string) float64 {
	var total float64
	for _, s := range m.matching(name, labels) {
		total += s.GetHistogram().GetSampleSum()
	}
	return total
}

// writes are counts of the operator's API writes by resource (bosun_api_writes_total summed over
// verbs).
type writes map[string]float64

// writes reads bosun_api_writes_total by resource.
func (m metrics) writes() writes {
	w := writes{}
	m.series("bosun_api_writes_total", nil, func(labels map[string]string, v float64) { w[labels["resource"]] += v })
	return w
}

// since returns the writes made after an earlier reading, leaving out resources with none.
func (w writes) since(earlier writes) writes {
	d := writes{}
	for r, n := range w {
		if n-earlier[r] != 0 {
			d[r] = n - earlier[r]
		}
	}
	return d
}

// The resources a breakdown of writes names apart.
const (
	resourceLeases  = "leases"
	resourceEvents  = "events"
	resourceSecrets = "secrets"
)

// total adds up the writes of every resource but the given ones.
func (w writes) total(except ...string) float64 {
	var n float64
	for r, v := range w {
		if !slices.Contains(except, r) {
			n += v
		}
	}
	return n
}

func (w writes) String() string {
	var parts []string
	for _, r := range sortedKeys(w) {
		parts = append(parts, fmt.Sprintf("%s %g", r, w[r]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
