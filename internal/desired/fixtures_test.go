package desired

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// The built-in catalog's snapshots, oldest first.
const (
	v125 = "v1.25.0-snapshot.be4b14ad"
	v127 = "v1.27.0-snapshot.b9159ca3"
	v131 = "v1.31.0-snapshot.eed52ebb"
)

// at is a creation time, seconds after an arbitrary start.
func at(sec int64) metav1.Time { return metav1.NewTime(time.Unix(1_800_000_000+sec, 0)) }

// revision is an IstioRevision of a version in istio-system, created at sec (0: not created yet).
func revision(name, version string, sec int64) *v1.IstioRevision {
	rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1.IstioRevisionSpec{Version: v1.ConcreteVersion(version), Namespace: DefaultIstioNamespace}}
	if sec > 0 {
		rev.CreationTimestamp = at(sec)
	}
	return rev
}

// ready marks a revision's istiod ready (true) or not (false) for its latest spec.
func ready(rev *v1.IstioRevision, isReady bool) *v1.IstioRevision {
	s := metav1.ConditionFalse
	if isReady {
		s = metav1.ConditionTrue
	}
	rev.Status.ObservedGeneration = rev.Generation
	rev.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: s, Reason: "test"}}
	return rev
}

// ownedBy makes a revision the Istio's, as the Istio controller creates it.
func ownedBy(rev *v1.IstioRevision, istio *v1.Istio) *v1.IstioRevision {
	yes := true
	rev.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: istio.Name, UID: istio.UID, Controller: &yes}}
	return rev
}

// deleting marks an object as being deleted.
func deleting[T interface{ SetDeletionTimestamp(*metav1.Time) }](obj T) T {
	now := metav1.Now()
	obj.SetDeletionTimestamp(&now)
	return obj
}

// tagOf is an IstioRevisionTag pointing at kind/name, created at sec.
func tagOf(name, kind, target string, sec int64) *v1.IstioRevisionTag {
	tag := &v1.IstioRevisionTag{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-tag-" + name)},
		Spec: v1.IstioRevisionTagSpec{TargetRef: v1.TargetReference{Kind: kind, Name: target}}}
	if sec > 0 {
		tag.CreationTimestamp = at(sec)
	}
	return tag
}

// facts are the facts of a cluster holding objs (Istios, IstioRevisions, IstioRevisionTags, the node
// agents) and the given namespaces.
func facts(namespaces []string, objs ...any) *Facts {
	f := &Facts{Istios: map[string]*v1.Istio{}, Revisions: map[string]*v1.IstioRevision{}, Tags: map[string]*v1.IstioRevisionTag{}}
	if namespaces != nil {
		f.Namespaces = map[string]Namespace{}
		for _, ns := range namespaces {
			f.Namespaces[ns] = Namespace{}
		}
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *v1.Istio:
			f.Istios[o.Name] = o
		case *v1.IstioRevision:
			f.Revisions[o.Name] = o
		case *v1.IstioRevisionTag:
			f.Tags[o.Name] = o
		case *v1.IstioCNI:
			f.CNI = o
		case *v1.ZTunnel:
			f.ZTunnel = o
		}
	}
	return f
}

// reasonOf is a plan's refusal reason, "" when it is not refused, and "waiting:" before the reason of
// a resource that waits.
func reasonOf(r *Refusal) string {
	switch {
	case r == nil:
		return ""
	case r.Waiting:
		return "waiting:" + r.Reason
	}
	return r.Reason
}

// name is an object's name, or "" for nil.
func name(rev *v1.IstioRevision) string {
	if rev == nil {
		return ""
	}
	return rev.Name
}
