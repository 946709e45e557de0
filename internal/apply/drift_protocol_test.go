package apply

import (
	"slices"
	"testing"
)

// TestDriftOfAPortRemovedBesideOneOfAnotherProtocol: a Service renders DNS on port 53 twice, over UDP
// and over TCP (the protocol left to the API server's default). Someone removes the TCP port: bosun no
// longer owns it, and that is drift, even though a port of the same number, the UDP one its own item
// matches, is still there.
func TestDriftOfAPortRemovedBesideOneOfAnotherProtocol(t *testing.T) {
	const dns = `
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: istio-system}
spec:
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53}`
	live := object(t, dns, bosunApply(`{"f:spec":{"f:ports":{"k:{\"port\":53,\"protocol\":\"UDP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{}}}}}`))
	if got := Drift(live, object(t, dns)); !slices.Equal(got, []string{"spec.ports[1]"}) {
		t.Errorf("Drift = %q, want the removed TCP port spec.ports[1]", got)
	}
}
