package apply

import (
	"context"
	"fmt"

	"github.com/Masterminds/semver/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/render"
)

// Istio's CRDs.
//
// CRDs are applied apart from any component (DESIGN decision 7): they belong to no bosun resource, so
// they carry no owner reference and are in no inventory, and nothing bosun does deletes them — a
// deleted CRD takes every VirtualService and AuthorizationPolicy of the cluster with it. They only
// move forward: each rendered CRD names the Istio version of its chart (render.AnnotationIstioVersion),
// and a live CRD that names a newer one is left as it is. A CRD without bosun's annotation (created by
// Helm, kubectl or another operator) says its version, if at all, in the app.kubernetes.io/version
// label Istio's charts set; it is taken over unless that version is newer. Taking it over is an apply
// that makes bosun an owner of every field it renders; the CRD itself, and so every stored object of
// its kind, stays.

// labelAppVersion is the label Istio's charts set to their version.
const labelAppVersion = "app.kubernetes.io/version"

// CRDResult says what ApplyCRDs did.
type CRDResult struct {
	Result
	// Newer are CRDs left alone because a newer Istio version's CRD is installed.
	Newer []Ref
}

// ApplyCRDs applies CRDs rendered by internal/render (each annotated with its Istio version): the
// missing ones are created, those of an older version or changed by a new bosun are updated, and
// those of a newer version are left alone. It reads only the CRDs' metadata.
func (a *Applier) ApplyCRDs(ctx context.Context, crds []*unstructured.Unstructured) (CRDResult, error) {
	res := CRDResult{Result: Result{Sent: map[Ref]*unstructured.Unstructured{}}}
	for _, crd := range crds {
		ref := refOf(crd)
		want, err := semver.NewVersion(crd.GetAnnotations()[render.AnnotationIstioVersion])
		if err != nil {
			return res, fmt.Errorf("%s has no Istio version: %w", ref, err)
		}
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(crd.GroupVersionKind())
		err = a.api.Get(ctx, client.ObjectKeyFromObject(crd), live)
		switch {
		case apierrors.IsNotFound(err):
			res.Created = append(res.Created, ref)
		case err != nil:
			return res, fmt.Errorf("reading %s: %w", ref, err)
		case newerThan(live, want):
			res.Newer = append(res.Newer, ref)
			continue
		case !AppliedByBosun(live):
			res.Adopted = append(res.Adopted, ref)
		case live.Annotations[render.AnnotationHash] != crd.GetAnnotations()[render.AnnotationHash]:
			res.Updated = append(res.Updated, ref)
		default:
			res.Unchanged++
			continue
		}
		sent, err := a.send(ctx, crd)
		if err != nil {
			return res, err
		}
		res.Sent[ref] = sent
	}
	return res, nil
}

// newerThan reports whether a live CRD comes from an Istio version newer than want.
func newerThan(live *metav1.PartialObjectMetadata, want *semver.Version) bool {
	version := live.Annotations[render.AnnotationIstioVersion]
	if version == "" {
		version = live.Labels[labelAppVersion]
	}
	have, err := semver.NewVersion(version)
	return err == nil && have.GreaterThan(want)
}
