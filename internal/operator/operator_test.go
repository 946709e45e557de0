package operator

import (
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/inuse"
)

// TestExternalNeeds: --external-node-components takes cni and ztunnel, and refuses anything else
// with the names it takes (docs/architecture.md#lesson-external-node-agents).
func TestExternalNeeds(t *testing.T) {
	cases := []struct {
		names []string
		want  inuse.Needs
		ok    bool
	}{
		{nil, inuse.Needs{}, true},
		{[]string{"cni"}, inuse.Needs{CNI: true}, true},
		{[]string{"ztunnel"}, inuse.Needs{ZTunnel: true}, true},
		{[]string{"cni", "ztunnel"}, inuse.Needs{CNI: true, ZTunnel: true}, true},
		{[]string{"istio-cni"}, inuse.Needs{}, false},
	}
	for _, tc := range cases {
		got, err := externalNeeds(tc.names)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("externalNeeds(%v) = %+v, %v; want %+v (ok %v)", tc.names, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "cni ztunnel") {
			t.Errorf("the error %q does not list the node components", err)
		}
	}
}
