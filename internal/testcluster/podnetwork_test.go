package testcluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	apiserverinstall "k8s.io/apiserver/pkg/apis/apiserver/install"
)

// boxNetwork starts a pod network on a socket in a temporary directory and
// closes it when the test ends. Its log is returned for inspection.
func boxNetwork(t *testing.T) (*podNetwork, string, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	socket := filepath.Join(t.TempDir(), egressSocketName)
	n, err := startPodNetwork(socket, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.close() })
	return n, socket, log
}

// playedListener is a local process playing a pod: it answers each
// connection with its name followed by what it read, upper-cased, once the
// client has half-closed.
func playedListener(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				data, _ := io.ReadAll(c)
				_, _ = io.WriteString(c, name+":"+strings.ToUpper(string(data)))
			}()
		}
	}()
	return l.Addr().String()
}

// connectDialer dials pod addresses as kube-apiserver does with the box's
// egress configuration: a connection to the Unix socket, `CONNECT
// <podIP>:<port> HTTP/1.1`, and the tunnel once the answer is 200.
func connectDialer(socket string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(c, "CONNECT "+addr+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			c.Close()
			return nil, err
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			c.Close()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(br)
			c.Close()
			return nil, fmt.Errorf("CONNECT %s: %s: %s", addr, resp.Status, body)
		}
		return &tunnelConn{Conn: c, r: br}, nil
	}
}

// tunnelConn is a tunnel whose first bytes may already be in r's buffer.
type tunnelConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *tunnelConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *tunnelConn) CloseWrite() error { return closeWriteOf(c.Conn) }

// exchange writes payload on c, half-closes it and returns everything read
// back.
func exchange(t *testing.T, c net.Conn, payload string) string {
	t.Helper()
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	if err := closeWriteOf(c); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(reply)
}

// closeWriteOf half-closes c, whatever wraps the socket underneath.
func closeWriteOf(c net.Conn) error {
	if wc, ok := c.(interface{ CloseWrite() error }); ok {
		return wc.CloseWrite()
	}
	return fmt.Errorf("%T cannot half-close", c)
}

// rawConnect sends request on a new connection to socket and returns the
// status the proxy answers, its body when it refuses, and the connection.
func rawConnect(t *testing.T, socket, request string) (int, string, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading the proxy's answer: %v", err)
	}
	var body string
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(br)
		body = string(b)
	}
	_ = c.SetReadDeadline(time.Time{})
	return resp.StatusCode, body, c, br
}

// TestEgressConfigurationIsTheAPIServers checks the file the API server gets
// with --egress-selector-config-file, decoded strictly by the API server's
// own scheme: it sends only "cluster" traffic (webhooks, the pod proxy)
// through the box's Unix socket over HTTP CONNECT, and so leaves
// control-plane and etcd traffic direct.
func TestEgressConfigurationIsTheAPIServers(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, egressSocketName)
	path, err := writeEgressConfig(dir, socket)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir {
		t.Errorf("the configuration is written to %s, outside the cluster directory %s", path, dir)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	apiserverinstall.Install(scheme)
	obj, _, err := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("kube-apiserver cannot decode the egress configuration: %v\n%s", err, data)
	}
	cfg, ok := obj.(*apiserverapi.EgressSelectorConfiguration)
	if !ok {
		t.Fatalf("the file decodes to a %T", obj)
	}
	if len(cfg.EgressSelections) != 1 {
		t.Fatalf("%d egress selections, want only cluster's: %+v", len(cfg.EgressSelections), cfg.EgressSelections)
	}
	sel := cfg.EgressSelections[0]
	if sel.Name != "cluster" || sel.Connection.ProxyProtocol != apiserverapi.ProtocolHTTPConnect {
		t.Errorf("selection %q over %q, want cluster over HTTPConnect", sel.Name, sel.Connection.ProxyProtocol)
	}
	if tr := sel.Connection.Transport; tr == nil || tr.UDS == nil || tr.UDS.UDSName != socket || tr.TCP != nil {
		t.Errorf("transport %+v, want only the Unix socket %s (the TCP transport demands a TLS client configuration)", tr, socket)
	}
}

// TestAPIServerReachesPlayedPods checks the box's network as the API server
// dials through it: a connection to a routed pod address reaches
// the process playing it, both ways and through a half-close, and a route
// moved to another process (a restarted one, on a new port) is followed by
// the next connection.
func TestAPIServerReachesPlayedPods(t *testing.T) {
	n, socket, _ := boxNetwork(t)
	dial := connectDialer(socket)
	const podAddr = "10.244.0.7:15017"

	first := playedListener(t, "first")
	n.route(podAddr, first)
	c, err := dial(t.Context(), "tcp", podAddr)
	if err != nil {
		t.Fatalf("dialling %s through the box's network: %v", podAddr, err)
	}
	if got := exchange(t, c, "admission review"); got != "first:ADMISSION REVIEW" {
		t.Errorf("the played pod answered %q, want first:ADMISSION REVIEW", got)
	}
	c.Close()

	n.route(podAddr, playedListener(t, "second"))
	c, err = dial(t.Context(), "tcp", podAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := exchange(t, c, "again"); got != "second:AGAIN" {
		t.Errorf("after the route moved, the pod answered %q, want second:AGAIN", got)
	}
}

// TestConnectRefusals checks every answer that is not a tunnel, and the line
// box.log gets for it: an address nobody plays and one whose process does
// not listen (yet, or any more) are 503, as a real network refuses a port
// nobody listens on, with the reason in the body; anything but CONNECT is 405.
func TestConnectRefusals(t *testing.T) {
	n, socket, log := boxNetwork(t)
	// A port that was free a moment ago: nobody listens there.
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("127.0.0.1:%d", ports[0])
	n.route("10.244.0.9:8080", dead)

	tests := []struct {
		name, request string
		wantStatus    int
		wantBody      string
		wantLog       string
	}{
		{
			name:       "nobody plays the address",
			request:    "CONNECT 10.244.0.8:15017 HTTP/1.1\r\nHost: 10.244.0.8:15017\r\n\r\n",
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "no process plays 10.244.0.8:15017",
			wantLog:    "CONNECT 10.244.0.8:15017: no process plays this pod address",
		},
		{
			name:       "the process does not listen",
			request:    "CONNECT 10.244.0.9:8080 HTTP/1.1\r\nHost: 10.244.0.9:8080\r\n\r\n",
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "connection refused",
			wantLog:    "CONNECT 10.244.0.9:8080 (played at " + dead + "):",
		},
		{
			name:       "not a CONNECT",
			request:    "GET http://10.244.0.9:8080/ready HTTP/1.1\r\nHost: 10.244.0.9:8080\r\n\r\n",
			wantStatus: http.StatusMethodNotAllowed,
			wantLog:    "GET 10.244.0.9:8080: only CONNECT is served",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _, _ := rawConnect(t, socket, tt.request)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q, want it to contain %q", body, tt.wantBody)
			}
			requireLog(t, log, tt.wantLog)
		})
	}
}

// TestMalformedRequestIsLogged checks that a connection that sends no HTTP
// request is closed and leaves a line in box.log, not a stuck goroutine.
func TestMalformedRequestIsLogged(t *testing.T) {
	_, socket, log := boxNetwork(t)
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "\x16\x03\x01 not http\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("the proxy did not close the connection: %v", err)
	}
	requireLog(t, log, "pod network: reading a CONNECT request:")
}

// TestBytesSentWithTheRequestReachThePod checks that bytes a client sends
// right behind its CONNECT request, in the same write (the start of a TLS
// handshake, say), are not lost in the proxy's read buffer.
func TestBytesSentWithTheRequestReachThePod(t *testing.T) {
	n, socket, _ := boxNetwork(t)
	n.route("10.244.0.7:9443", playedListener(t, "pod"))
	status, _, c, br := rawConnect(t, socket, "CONNECT 10.244.0.7:9443 HTTP/1.1\r\nHost: 10.244.0.7:9443\r\n\r\nearly bytes")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	if err := closeWriteOf(c); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "pod:EARLY BYTES" {
		t.Errorf("the pod answered %q, want pod:EARLY BYTES", reply)
	}
}

// TestWebhookCallOverTheTunnel checks a webhook call as the API server makes
// it: CONNECT to the pod's address, then TLS to the played process with the
// name the webhook's caBundle vouches for, then a request.
func TestWebhookCallOverTheTunnel(t *testing.T) {
	n, socket, _ := boxNetwork(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "reviewed "+r.URL.Path)
	}))
	defer srv.Close()
	n.route("10.244.0.5:15017", srv.Listener.Addr().String())

	dial := connectDialer(socket)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	client := &http.Client{Transport: &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"},
	}}
	resp, err := client.Get("https://10.244.0.5:15017/inject")
	if err != nil {
		t.Fatalf("a webhook call to the played pod: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "reviewed /inject" {
		t.Errorf("webhook answered %s %q", resp.Status, body)
	}
}

// TestUnrouteRefusesNewConnectionsAndKeepsOpenOnes checks what a deleted pod
// looks like: new connections to its addresses are refused, every address
// given at once goes, other pods stay reachable, and a connection already
// open stays open until one end closes it, as an established connection to
// a deleted pod does.
func TestUnrouteRefusesNewConnectionsAndKeepsOpenOnes(t *testing.T) {
	n, socket, _ := boxNetwork(t)
	n.route("10.244.0.7:8080", playedListener(t, "a"))
	n.route("10.244.0.7:15017", playedListener(t, "a"))
	n.route("10.244.0.8:8080", playedListener(t, "b"))

	status, _, open, br := rawConnect(t, socket, "CONNECT 10.244.0.7:8080 HTTP/1.1\r\nHost: 10.244.0.7:8080\r\n\r\n")
	if status != http.StatusOK {
		t.Fatalf("status %d before unroute", status)
	}
	n.unroute("10.244.0.7:8080", "10.244.0.7:15017")

	for addr, want := range map[string]int{
		"10.244.0.7:8080":  http.StatusServiceUnavailable,
		"10.244.0.7:15017": http.StatusServiceUnavailable,
		"10.244.0.8:8080":  http.StatusOK,
	} {
		if status, _, _, _ := rawConnect(t, socket, "CONNECT "+addr+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); status != want {
			t.Errorf("CONNECT %s after unroute of pod a: %d, want %d", addr, status, want)
		}
	}
	if _, ok := n.lookup("10.244.0.7:8080"); ok {
		t.Error("lookup still finds an unrouted address")
	}

	if _, err := io.WriteString(open, "still here"); err != nil {
		t.Fatal(err)
	}
	if err := closeWriteOf(open); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(br)
	if err != nil || string(reply) != "a:STILL HERE" {
		t.Errorf("the tunnel opened before unroute answered %q, %v; want a:STILL HERE", reply, err)
	}
}

// TestCloseEndsEveryTunnel checks that closing the network (Stop) ends open
// tunnels at once, even to a process that never closes its end, returns
// only once its goroutines are done, and refuses connections afterwards.
func TestCloseEndsEveryTunnel(t *testing.T) {
	log := &syncBuffer{}
	socket := filepath.Join(t.TempDir(), egressSocketName)
	n, err := startPodNetwork(socket, log)
	if err != nil {
		t.Fatal(err)
	}
	// A played process that accepts and then holds the connection open.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			held <- c
		}
	}()
	n.route("10.244.0.7:15010", l.Addr().String())
	status, _, c, br := rawConnect(t, socket, "CONNECT 10.244.0.7:15010 HTTP/1.1\r\nHost: 10.244.0.7:15010\r\n\r\n")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	upstream := <-held
	defer upstream.Close()

	closed := make(chan error, 1)
	go func() { closed <- n.close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return while a tunnel was open")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("reading the client's end after close: %v, want EOF", err)
	}
	_ = upstream.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := upstream.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("reading the process's end after close: %v, want EOF", err)
	}
	if c, err := net.Dial("unix", socket); err == nil {
		c.Close()
		t.Error("the socket accepts connections after close")
	}
}

// TestStartPodNetworkSaysWhatFailed checks that a socket that cannot be
// opened fails the cluster's start with an error naming the API server's
// egress.
func TestStartPodNetworkSaysWhatFailed(t *testing.T) {
	_, err := startPodNetwork(filepath.Join(t.TempDir(), "missing", egressSocketName), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listening for the API server's egress") {
		t.Errorf("startPodNetwork in a missing directory: %v, want an error about the API server's egress", err)
	}
}

// TestLockedFileKeepsLinesWhole checks that lines written to box.log from
// many goroutines at once (the network and every played pod) come out
// whole, one per Write.
func TestLockedFileKeepsLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), boxLogName)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	lf := &lockedFile{f: f}
	var wg sync.WaitGroup
	const writers, lines = 8, 50
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Sprintf("writer %d line %03d %s\n", w, i, strings.Repeat("x", 200))
				if _, err := lf.Write([]byte(line)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := lf.close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		var rest string
		if _, err := fmt.Sscanf(l, "writer %d line %d %s", &w, &i, &rest); err != nil || rest != strings.Repeat("x", 200) {
			t.Fatalf("a torn line: %q", l)
		}
	}
}

// requireLog fails the test unless the log contains want. The proxy writes
// its line before it answers or closes, so it is there once the client has
// seen the answer.
func requireLog(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	if !strings.Contains(log.String(), want) {
		t.Errorf("the box's log does not contain %q:\n%s", want, log.String())
	}
}

// syncBuffer is a log written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
