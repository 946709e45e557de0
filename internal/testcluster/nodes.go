package testcluster

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// fakeNodeAnnotation marks the nodes that kwok manages (it is started with
// this annotation as its node selector), with the value
// fakeNodeAnnotationValue. Nodes without it are left alone, so a test may
// add nodes that never become Ready.
const (
	fakeNodeAnnotation      = "kwok.x-k8s.io/node"
	fakeNodeAnnotationValue = "fake"
)

// NodeName returns the name of the i-th fake node, counting from zero.
func NodeName(i int) string { return fmt.Sprintf("kwok-node-%d", i) }

// fakeNode is the i-th fake Node as a kubelet would register it: labelled
// like a Linux amd64 machine, with an address of its own and room for far
// more pods than any test makes. kwok keeps capacity and addresses as given
// and fills in the conditions.
func fakeNode(i int) *corev1.Node {
	name := NodeName(i)
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(PodsPerNode, resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{fakeNodeAnnotation: fakeNodeAnnotationValue},
			Labels: map[string]string{
				corev1.LabelHostname:   name,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: "amd64",
				"type":                 "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    resources,
			Allocatable: resources,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP(i).String()},
				{Type: corev1.NodeHostName, Address: name},
			},
		},
	}
}

// maxNodes is the number of addresses nodeIP has to give.
const maxNodes = 1<<16 - 2

// nodeIP is the InternalIP of the i-th fake node, from 172.18.0.0/16. kwok
// gives a node without one the address of its --node-ip flag, the same for
// every node, or none.
func nodeIP(i int) net.IP {
	n := i + 1 // skip the network address
	return net.IPv4(172, 18, byte(n>>8), byte(n))
}

// PodsPerNode is how many pods a fake node holds, a kubelet's default.
const PodsPerNode = 110

// EnsureNodes makes the fake nodes 0 to n-1 (an existing node of the same
// name is kept) and waits until all of them are Ready: a benchmark that runs
// more pods than Options.Nodes hold (PodsPerNode each) adds nodes with it.
func (c *Cluster) EnsureNodes(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	for i := range n {
		_, err := client.CoreV1().Nodes().Create(ctx, fakeNode(i), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", NodeName(i), err)
		}
	}
	return c.waitFor(ctx, fmt.Sprintf("%d fake nodes to be Ready", n), func(ctx context.Context) error {
		for i := range n {
			node, err := client.CoreV1().Nodes().Get(ctx, NodeName(i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !nodeReady(node) {
				return fmt.Errorf("node %s is not Ready", node.Name)
			}
		}
		return nil
	})
}

// nodeReady reports whether node's Ready condition is True.
func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
