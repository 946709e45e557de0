package testcluster

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestPodNetwork checks the box's CONNECT proxy as the API server uses it: a
// routed pod address is tunnelled both ways to the local listener playing it,
// an address nobody plays is refused with 503 and a line in the log, and
// removing a route refuses the address again.
func TestPodNetwork(t *testing.T) {
	log := &lockedWriter{}
	socket := filepath.Join(t.TempDir(), egressSocketName)
	n, err := startPodNetwork(socket, log)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()

	// The played pod: an echo server that upper-cases what it reads.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				data, _ := io.ReadAll(c)
				_, _ = c.Write(bytes.ToUpper(data))
			}()
		}
	}()
	const podAddr = "10.244.0.7:15017"
	n.route(podAddr, l.Addr().String())

	status, reply := connect(t, socket, podAddr, "hello pod")
	if status != http.StatusOK || reply != "HELLO POD" {
		t.Errorf("CONNECT %s: status %d, reply %q; want 200 and the upper-cased request", podAddr, status, reply)
	}

	if status, _ := connect(t, socket, "10.244.0.8:15017", ""); status != http.StatusServiceUnavailable {
		t.Errorf("CONNECT to an address nobody plays: status %d, want 503", status)
	}
	n.unroute(podAddr)
	if status, _ := connect(t, socket, podAddr, ""); status != http.StatusServiceUnavailable {
		t.Errorf("CONNECT after unroute: status %d, want 503", status)
	}
	if got := log.String(); !strings.Contains(got, "CONNECT 10.244.0.8:15017: no process plays this pod address") {
		t.Errorf("the log does not name the refused address:\n%s", got)
	}
}

// connect sends CONNECT addr on the socket, then payload (half-closing the
// connection), and returns the status and everything the tunnel answered.
func connect(t *testing.T, socket, addr, payload string) (int, string) {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "CONNECT "+addr+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.UnixConn).CloseWrite()
	reply, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(reply)
}

// lockedWriter serialises writes from the proxy's goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
