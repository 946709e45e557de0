package testcluster

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The box's network lets the API server reach a pod that a local process
// plays, which is what webhooks need (reference: docs/istiod-in-the-box.md).
// Nothing else routes pod addresses: kwok hands them out from podCIDR
// without any network behind them.
//
// kube-apiserver runs with --enable-aggregator-routing, so a webhook whose
// clientConfig names a Service is called at a pod IP of the Service's
// EndpointSlice rather than its cluster IP, and with an egress selector whose
// "cluster" egress is HTTP CONNECT over a Unix socket. For each webhook call
// the API server then opens that socket and asks for
// `CONNECT <podIP>:<targetPort>`; podNetwork answers it and tunnels the bytes
// to the local listener registered for that address, or refuses the
// connection when no process plays it, as a real network refuses a pod port
// nobody listens on.

// egressSocketName is the Unix socket, in the cluster directory, on which the
// API server opens its connections to pods.
const egressSocketName = "egress.sock"

// egressConfigTemplate is the API server's egress selector configuration.
// Only "cluster" traffic (webhooks, aggregated APIs, logs and exec) goes
// through it; etcd and control-plane traffic stay direct. The Unix socket
// transport needs no TLS client configuration, which the TCP one demands.
const egressConfigTemplate = `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`

// podNetwork is the box's CONNECT proxy. Its routes map a pod's address
// (podIP:port) to the local address of the process that plays that pod.
type podNetwork struct {
	listener net.Listener
	log      io.Writer

	mu     sync.Mutex
	routes map[string]string
	conns  map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup
}

// startPodNetwork listens on socketPath and serves CONNECT requests until
// close. Connection failures are written to log, one line each.
func startPodNetwork(socketPath string, log io.Writer) (*podNetwork, error) {
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("listening for the API server's egress: %w", err)
	}
	n := &podNetwork{listener: l, log: log, routes: map[string]string{}, conns: map[net.Conn]struct{}{}}
	n.wg.Add(1)
	go n.serve()
	return n, nil
}

// writeEgressConfig writes the API server's egress selector configuration
// for a podNetwork listening on socketPath, and returns the file's path.
func writeEgressConfig(dir, socketPath string) (string, error) {
	path := filepath.Join(dir, "egress-selector.yaml")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(egressConfigTemplate, socketPath)), 0o644)
}

// route makes connections to podAddr (ip:port) reach localAddr.
func (n *podNetwork) route(podAddr, localAddr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[podAddr] = localAddr
}

// unroute removes the routes to podAddrs. Open tunnels stay open until either
// end closes them, as established connections to a deleted pod do.
func (n *podNetwork) unroute(podAddrs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range podAddrs {
		delete(n.routes, a)
	}
}

// lookup returns the local address playing podAddr.
func (n *podNetwork) lookup(podAddr string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	local, ok := n.routes[podAddr]
	return local, ok
}

// close stops listening, closes every tunnel and returns once all of the
// proxy's goroutines have ended.
func (n *podNetwork) close() error {
	err := n.listener.Close()
	n.mu.Lock()
	n.closed = true
	for c := range n.conns {
		c.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
	return err
}

// track records an open connection so close can end it; it returns false
// once the network is closed.
func (n *podNetwork) track(c net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *podNetwork) untrack(c net.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
}

func (n *podNetwork) serve() {
	defer n.wg.Done()
	for {
		c, err := n.listener.Accept()
		if err != nil {
			return
		}
		if !n.track(c) {
			c.Close()
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.untrack(c)
			defer c.Close()
			n.tunnel(c)
		}()
	}
}

// logf writes one timestamped line to the box's log.
func (n *podNetwork) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(n.log, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// connectTimeout bounds reading the CONNECT request and dialling the local
// process; both are local and take microseconds.
const connectTimeout = 5 * time.Second

// tunnel answers one CONNECT request on c and copies bytes both ways until
// either side closes.
func (n *podNetwork) tunnel(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(connectTimeout))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		n.logf("pod network: reading a CONNECT request: %v", err)
		return
	}
	if req.Method != http.MethodConnect {
		n.logf("pod network: %s %s: only CONNECT is served", req.Method, req.Host)
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	local, ok := n.lookup(req.Host)
	if !ok {
		n.logf("pod network: CONNECT %s: no process plays this pod address", req.Host)
		_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n\r\nno process plays "+req.Host+"\n")
		return
	}
	upstream, err := net.DialTimeout("tcp", local, connectTimeout)
	if err != nil {
		n.logf("pod network: CONNECT %s (played at %s): %v", req.Host, local, err)
		_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n\r\n"+err.Error()+"\n")
		return
	}
	if !n.track(upstream) {
		upstream.Close()
		return
	}
	defer n.untrack(upstream)
	defer upstream.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	// Bytes the API server sent after its request, such as the start of a
	// TLS handshake, are already in br's buffer.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(upstream, br)
		closeWrite(upstream)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, upstream)
		closeWrite(c)
		done <- struct{}{}
	}()
	<-done
	<-done
}

// closeWrite half-closes a connection so the other end sees the end of the
// stream while the reply can still come back.
func closeWrite(c net.Conn) {
	type writeCloser interface{ CloseWrite() error }
	if wc, ok := c.(writeCloser); ok {
		_ = wc.CloseWrite()
		return
	}
	_ = c.Close()
}

// boxLogName is the log, in the cluster directory, of the pod network and the
// players of istiod's and bosun's pods.
const boxLogName = "box.log"

// lockedFile is a log file written from several goroutines, one line per
// Write.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *lockedFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

func (l *lockedFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
