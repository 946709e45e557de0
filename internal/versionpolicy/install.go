package versionpolicy

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"

	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/render"
)

// pluralOf maps the kinds of Objects to their resources.
var pluralOf = map[string]string{
	"ValidatingAdmissionPolicy":        "validatingadmissionpolicies",
	"ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
	"MutatingAdmissionPolicy":          "mutatingadmissionpolicies",
	"MutatingAdmissionPolicyBinding":   "mutatingadmissionpolicybindings",
}

// Install applies Objects(c) with server-side apply (field manager bosun) — those the API server does
// not already hold as they are, so that an operator that becomes leader again writes nothing — and waits until the API
// server enforces them or the timeout passes. The API server loads admission policies a moment after
// they are written, and can default a kind only once it has published the kind's schema, so Install
// checks with dry-run requests: each kind and version without a version must get c's default, and
// each kind must be refused a version c does not know, in c's words. bosun's CRDs must be installed
// first. The caller needs the right to apply the four admissionregistration.k8s.io kinds and to create
// the sailoperator.io kinds. Each object written is recorded as a Normal Event (reason Applied) with
// recorder, unless recorder is nil.
func Install(ctx context.Context, cfg *rest.Config, c *catalog.Catalog, timeout time.Duration, recorder events.EventRecorder) error {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	objs, err := Objects(c)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: pluralOf[obj.GetKind()]}
		live, err := client.Resource(gvr).Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err == nil && live.GetAnnotations()[render.AnnotationHash] == obj.GetAnnotations()[render.AnnotationHash] {
			continue
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("reading %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		applied, err := client.Resource(gvr).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: apply.FieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		if recorder != nil {
			recorder.Eventf(applied, nil, corev1.EventTypeNormal, "Applied", "Apply",
				"applied %s %s: the API server checks spec.version against this operator's catalog (default %s)", obj.GetKind(), obj.GetName(), c.Default())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, p := range probes(c) {
		var last string
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			ok, what, err := p.check(ctx, client)
			last = what
			return ok, err
		})
		if err != nil {
			return fmt.Errorf("the API server does not enforce %s: %s: %w", p.policy, last, err)
		}
	}
	return nil
}

// probe is a dry-run create that shows whether the API server enforces one policy of c.
type probe struct {
	policy string
	obj    *unstructured.Unstructured
	// want is the refusal expected in the error; when empty, the request must succeed with c's default
	// in spec.version, or find an object of that name already there (IstioCNI and ZTunnel can only be
	// named default), which the API server says only after admission.
	want, defaultVersion string
}

// probeVersion is a version of every shape the CRDs take (concrete, with ambient mode) that no catalog
// has: the probes of the validating policies ask for it and must be refused.
const probeVersion = "v1.999.0-bosun-probe"

func probes(c *catalog.Catalog) []probe {
	object := func(apiVersion, kind string, spec map[string]any) *unstructured.Unstructured {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec}}
		if kind == "Istio" {
			obj.SetGenerateName("bosun-version-probe-")
		} else {
			obj.SetName("default")
		}
		return obj
	}
	versioned := map[string]any{"version": probeVersion}
	var out []probe
	for _, r := range rules {
		var obj *unstructured.Unstructured
		switch r.policy {
		case IstioPolicy:
			obj = object("sailoperator.io/v1", "Istio", versioned)
		case ZTunnelPolicy:
			// Admission refuses before the API server would find a ZTunnel of that name there.
			obj = object("sailoperator.io/v1", "ZTunnel", versioned)
		default:
			obj = object("sailoperator.io/v1", "IstioRevision", map[string]any{
				"version": probeVersion, "namespace": "istio-system",
				"values": map[string]any{"global": map[string]any{"istioNamespace": "istio-system"}},
			})
		}
		out = append(out, probe{policy: r.policy, obj: obj, want: r.refusal(c, probeVersion)})
	}
	for _, res := range defaulted {
		for _, version := range res.apiVersions {
			for _, plural := range res.plural {
				kind := map[string]string{"istios": "Istio", "istiocnis": "IstioCNI", "ztunnels": "ZTunnel"}[plural]
				obj := object(group+"/"+version, kind, map[string]any{})
				out = append(out, probe{policy: DefaultPolicy, obj: obj, defaultVersion: c.Default()})
			}
		}
	}
	return out
}

// check sends the probe and says whether the policy is enforced, and if not, what the API server did.
func (p probe) check(ctx context.Context, client dynamic.Interface) (bool, string, error) {
	gvk := p.obj.GroupVersionKind()
	plural := strings.ToLower(gvk.Kind) + "s"
	res := client.Resource(gvk.GroupVersion().WithResource(plural))
	got, err := res.Create(ctx, p.obj.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case apierrors.IsNotFound(err):
		// A create finds nothing missing but the resource itself.
		return false, "", fmt.Errorf("%s %s is not served: install bosun's CRDs first: %w", gvk.GroupVersion(), plural, err)
	case p.want != "":
		// The refusal must be this catalog's, not that of policies applied before with another.
		if apierrors.IsInvalid(err) && strings.Contains(err.Error(), p.want) {
			return true, "", nil
		}
		return false, fmt.Sprintf("creating %s with spec.version %s gave %v", gvk.Kind, probeVersion, err), nil
	case apierrors.IsAlreadyExists(err):
		return true, "", nil
	case err != nil:
		return false, fmt.Sprintf("creating %s %s without spec.version gave %v", gvk.GroupVersion(), gvk.Kind, err), nil
	default:
		v, _, _ := unstructured.NestedString(got.Object, "spec", "version")
		return v == p.defaultVersion, fmt.Sprintf("%s %s without spec.version got %q", gvk.GroupVersion(), gvk.Kind, v), nil
	}
}
