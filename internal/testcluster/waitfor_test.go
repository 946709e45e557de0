package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// exitedProcess is the record of a component that has exited with err.
func exitedProcess(name string, err error) *process {
	done := make(chan struct{})
	close(done)
	return &process{name: name, done: done, waitErr: err}
}

// TestWaitForReturnsOnceTheCheckPasses checks that a startup step ends as
// soon as its check passes, after as many tries as it takes.
func TestWaitForReturnsOnceTheCheckPasses(t *testing.T) {
	c := &Cluster{opts: Options{Log: io.Discard}, processes: []*process{{name: etcdBin, done: make(chan struct{})}}}
	calls := 0
	err := c.waitFor(t.Context(), "etcd to be healthy", func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a check runs without a deadline, so one hung request could use up the start")
		}
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("waitFor = %v after %d checks, want nil after 3", err, calls)
	}
}

// TestWaitForFailsAtOnceWhenAComponentExited checks that a start does not
// wait out its timeout once a component has died: the error names the
// component and its exit status, and the check is not tried again.
func TestWaitForFailsAtOnceWhenAComponentExited(t *testing.T) {
	c := &Cluster{opts: Options{Log: io.Discard}, processes: []*process{
		{name: etcdBin, done: make(chan struct{})},
		exitedProcess(apiServerBin, errors.New("exit status 1")),
	}}
	// Bounded, so that a waitFor that misses the exit fails instead of
	// hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	calls := 0
	err := c.waitFor(ctx, "kube-apiserver to be ready", func(context.Context) error {
		calls++
		return errors.New("connection refused")
	})
	if err == nil || err.Error() != "waiting for kube-apiserver to be ready: kube-apiserver exited: exit status 1" {
		t.Errorf("waitFor = %v, want it to name the exited component and its status", err)
	}
	if calls != 0 {
		t.Errorf("the check ran %d times after a component exited", calls)
	}
}

// TestWaitForGivesUpWithTheLastError checks a start that times out: the
// error says what it waited for, that time ran out, and the check's last
// error, which is what explains it.
func TestWaitForGivesUpWithTheLastError(t *testing.T) {
	c := &Cluster{opts: Options{Log: io.Discard}}
	ctx, cancel := context.WithTimeout(t.Context(), 3*pollInterval)
	defer cancel()
	calls := 0
	err := c.waitFor(ctx, "3 fake nodes to be Ready", func(context.Context) error {
		calls++
		return fmt.Errorf("node kwok-node-%d is not Ready", calls)
	})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waitFor = %v, want the deadline", err)
	}
	want := fmt.Sprintf("waiting for 3 fake nodes to be Ready: context deadline exceeded (last error: node kwok-node-%d is not Ready)", calls)
	if err.Error() != want {
		t.Errorf("waitFor = %q, want %q", err, want)
	}
}

// TestExitError checks how a component's end is reported: nothing while it
// runs, its name and status once it exited, and its name alone when it
// exited cleanly, which is still a failure for a component.
func TestExitError(t *testing.T) {
	running := &process{name: etcdBin, done: make(chan struct{})}
	if err := running.exitError(); err != nil {
		t.Errorf("exitError of a running process = %v", err)
	}
	if err := exitedProcess(etcdBin, errors.New("signal: killed")).exitError(); err == nil || err.Error() != "etcd exited: signal: killed" {
		t.Errorf("exitError = %v, want etcd exited: signal: killed", err)
	}
	if err := exitedProcess(kwokBin, nil).exitError(); err == nil || err.Error() != "kwok exited" {
		t.Errorf("exitError of a clean exit = %v, want kwok exited", err)
	}
	if err := exitedProcess(etcdBin, nil).stop(); err != nil {
		t.Errorf("stop of an exited process = %v, want nil", err)
	}
}

// TestHTTPOK checks the health probe of startup steps: 200 passes; any
// other status fails with the URL, the status and the start of the body
// (which says what is unhealthy); an address nobody serves fails.
func TestHTTPOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = io.WriteString(w, "ok")
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "[-]etcd failed: not ready"+strings.Repeat(".", 4096))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := &http.Client{Timeout: time.Second}

	if err := httpOK(t.Context(), client, srv.URL+"/healthz"); err != nil {
		t.Errorf("200: %v", err)
	}
	err := httpOK(t.Context(), client, srv.URL+"/readyz")
	if err == nil {
		t.Fatal("503: no error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "GET "+srv.URL+"/readyz: 503 Service Unavailable: [-]etcd failed: not ready") {
		t.Errorf("503: %q, want the URL, status and body", msg)
	}
	if len(msg) > 1024+200 {
		t.Errorf("503: an error of %d bytes; the body should be cut at 1 KiB", len(msg))
	}

	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := httpOK(t.Context(), client, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[0])); err == nil {
		t.Error("an address nobody serves: no error")
	}
}

// TestFreePortsAreDistinctAndFree checks the ports a cluster's components
// get: as many as asked, all different, and each one bindable on loopback
// once freePorts returns.
func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 8 {
		t.Fatalf("%d ports, want 8", len(ports))
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if seen[port] {
			t.Errorf("port %d given twice", port)
		}
		seen[port] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d is not free after freePorts returned: %v", port, err)
			continue
		}
		l.Close()
	}
	if none, err := freePorts(0); err != nil || len(none) != 0 {
		t.Errorf("freePorts(0) = %v, %v", none, err)
	}
}

// TestConfigIsACopy checks that a test changing the configuration Config
// returned (its rate limits, its user agent, an impersonation) changes
// neither the cluster's own nor the next caller's.
func TestConfigIsACopy(t *testing.T) {
	c := &Cluster{config: adminConfig("https://127.0.0.1:6443", testPKI(t))}
	cfg := c.Config()
	cfg.Host = "https://elsewhere:1"
	cfg.QPS = 1
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:bosun-system:bosun-operator"}
	again := c.Config()
	if again.Host != "https://127.0.0.1:6443" || again.QPS == 1 || again.Impersonate.UserName != "" {
		t.Errorf("a change to one Config reached the next: host %q, QPS %v, impersonating %q", again.Host, again.QPS, again.Impersonate.UserName)
	}
}
