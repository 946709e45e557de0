package testcluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestFakeNodeIsRegisteredLikeAKubelets checks the shape of a fake node that
// scheduling and bosun's DaemonSets rely on: kwok's annotation (so kwok
// manages it and no other node), the well-known labels of a Linux amd64
// machine, allocatable equal to capacity with room for many pods, an
// InternalIP of its own and its name as the hostname, no taints, and no
// conditions, which kwok fills in.
func TestFakeNodeIsRegisteredLikeAKubelets(t *testing.T) {
	node := fakeNode(2)
	if node.Name != "kwok-node-2" || node.Name != NodeName(2) {
		t.Errorf("name %q, want kwok-node-2", node.Name)
	}
	if got := node.Annotations[fakeNodeAnnotation]; got != fakeNodeAnnotationValue {
		t.Errorf("annotation %s=%q, want %q: kwok manages only nodes with it", fakeNodeAnnotation, got, fakeNodeAnnotationValue)
	}
	for key, want := range map[string]string{
		corev1.LabelHostname:   "kwok-node-2",
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
		"type":                 "kwok",
	} {
		if got := node.Labels[key]; got != want {
			t.Errorf("label %s=%q, want %q", key, got, want)
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		c, a := node.Status.Capacity[name], node.Status.Allocatable[name]
		if c.IsZero() || c.Cmp(a) != 0 {
			t.Errorf("%s: capacity %s, allocatable %s; want equal and not zero", name, c.String(), a.String())
		}
	}
	if pods := node.Status.Allocatable[corev1.ResourcePods]; pods.Cmp(resource.MustParse("100")) < 0 {
		t.Errorf("room for %s pods, want at least a kubelet's default", pods.String())
	}
	addresses := map[corev1.NodeAddressType]string{}
	for _, a := range node.Status.Addresses {
		addresses[a.Type] = a.Address
	}
	if addresses[corev1.NodeInternalIP] != "172.18.0.3" || addresses[corev1.NodeHostName] != "kwok-node-2" {
		t.Errorf("addresses %v, want InternalIP 172.18.0.3 and Hostname kwok-node-2", addresses)
	}
	if len(node.Spec.Taints) != 0 || node.Spec.Unschedulable {
		t.Errorf("taints %v, unschedulable %v; want a node every pod may use", node.Spec.Taints, node.Spec.Unschedulable)
	}
	if len(node.Status.Conditions) != 0 {
		t.Errorf("conditions %v; kwok sets them, and a Ready written here would hide a kwok that does not run", node.Status.Conditions)
	}
}

// TestNodeIPs checks the addresses of fake nodes at the edges of the range:
// the first is .0.1 (not the network address), counting carries into the
// third octet, every one of maxNodes nodes has its own address in
// 172.18.0.0/16, and the last is not the broadcast address.
func TestNodeIPs(t *testing.T) {
	for i, want := range map[int]string{
		0:            "172.18.0.1",
		1:            "172.18.0.2",
		253:          "172.18.0.254",
		254:          "172.18.0.255",
		255:          "172.18.1.0",
		maxNodes - 1: "172.18.255.254",
	} {
		if got := nodeIP(i).String(); got != want {
			t.Errorf("nodeIP(%d) = %s, want %s", i, got, want)
		}
	}
	_, network, err := net.ParseCIDR("172.18.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int, maxNodes)
	for i := range maxNodes {
		ip := nodeIP(i)
		if !network.Contains(ip) {
			t.Fatalf("nodeIP(%d) = %s, outside %s", i, ip, network)
		}
		if j, dup := seen[ip.String()]; dup {
			t.Fatalf("nodes %d and %d share the address %s", j, i, ip)
		}
		seen[ip.String()] = i
	}
	_, pods, _ := net.ParseCIDR(podCIDR)
	_, services, _ := net.ParseCIDR(serviceCIDR)
	if pods.Contains(network.IP) || services.Contains(network.IP) || network.Contains(pods.IP) || network.Contains(services.IP) {
		t.Errorf("node addresses %s overlap the pod (%s) or service (%s) range", network, podCIDR, serviceCIDR)
	}
}

// TestStartRefusesNodeCountsItCannotServe checks Start's answer to a node
// count it cannot honour, before it looks for any program: a negative
// count, more nodes than there are addresses, and nodes without Full (no
// kwok to make them Ready) each fail with a message naming the limits and
// the value given.
func TestStartRefusesNodeCountsItCannotServe(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"negative", Options{Full: true, Nodes: -1}},
		{"more than there are addresses", Options{Full: true, Nodes: maxNodes + 1}},
		{"nodes without Full", Options{Nodes: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Start(context.Background(), tt.opts)
			if err == nil {
				c.Stop()
				t.Fatal("Start accepted the options")
			}
			want := fmt.Sprintf("Options.Nodes must be 0, or between 1 and %d with Options.Full; got %d", maxNodes, tt.opts.Nodes)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, want it to contain %q", err, want)
			}
		})
	}
}

// TestNodeReady checks the test addNodes waits for: only a Ready condition
// that is True counts, whatever other conditions say.
func TestNodeReady(t *testing.T) {
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s}
	}
	tests := []struct {
		name       string
		conditions []corev1.NodeCondition
		want       bool
	}{
		{"no conditions yet", nil, false},
		{"Ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, true},
		{"not Ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, false},
		{"Ready unknown", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)}, false},
		{"only other conditions True", []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionTrue), cond(corev1.NodeDiskPressure, corev1.ConditionTrue),
		}, false},
		{"Ready among others", []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse), cond(corev1.NodeReady, corev1.ConditionTrue),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{Status: corev1.NodeStatus{Conditions: tt.conditions}}
			if got := nodeReady(node); got != tt.want {
				t.Errorf("nodeReady = %v, want %v", got, tt.want)
			}
		})
	}
}
