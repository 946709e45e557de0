package render

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyOrder ranks kinds so that what others depend on comes first: namespaces and policies, then
// identities and configuration, then workloads, and webhooks last, since a webhook that points at a
// service not yet running would block the objects after it.
var applyOrder = map[string]int{
	"Namespace":                        1,
	"NetworkPolicy":                    2,
	"ResourceQuota":                    3,
	"LimitRange":                       4,
	"PodSecurityPolicy":                5,
	"PodDisruptionBudget":              6,
	"ServiceAccount":                   7,
	"Secret":                           8,
	"ConfigMap":                        9,
	"StorageClass":                     10,
	"PersistentVolume":                 11,
	"PersistentVolumeClaim":            12,
	"CustomResourceDefinition":         13,
	"ClusterRole":                      14,
	"ClusterRoleBinding":               15,
	"Role":                             16,
	"RoleBinding":                      17,
	"Service":                          18,
	"DaemonSet":                        19,
	"Pod":                              20,
	"ReplicaSet":                       21,
	"Deployment":                       22,
	"HorizontalPodAutoscaler":          23,
	"StatefulSet":                      24,
	"Job":                              25,
	"CronJob":                          26,
	"EnvoyFilter":                      27,
	"ValidatingAdmissionPolicy":        28,
	"ValidatingAdmissionPolicyBinding": 29,
	"MutatingWebhookConfiguration":     30,
	"ValidatingWebhookConfiguration":   31,
}

// unknownKindRank puts kinds not listed above after workloads and before webhooks.
const unknownKindRank = 27

// Sort orders objects for applying: by kind rank, then namespace, then name.
func Sort(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		if r, ok := applyOrder[o.GetKind()]; ok {
			return r
		}
		return unknownKindRank
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// The waves of an apply: objects of one wave do not depend on each other and may be sent together,
// while a wave waits for the one before it. Workloads wait for the identities, configuration and
// services their pods need (a pod whose ServiceAccount is missing is refused, and its controller
// retries with backoff); webhooks wait for every other object, as in applyOrder.
const (
	waveWorkloads = 19 // DaemonSet's rank: workloads and what follows them
	waveWebhooks  = 30 // MutatingWebhookConfiguration's rank
)

// Wave is the wave of an apply an object belongs to: 0 for what workloads need, 1 for workloads and
// what follows them, 2 for webhooks. Objects of one wave may be sent at once, once every object of
// the waves before it was.
func Wave(o *unstructured.Unstructured) int {
	r, ok := applyOrder[o.GetKind()]
	if !ok {
		r = unknownKindRank
	}
	switch {
	case r >= waveWebhooks:
		return 2
	case r >= waveWorkloads:
		return 1
	}
	return 0
}
