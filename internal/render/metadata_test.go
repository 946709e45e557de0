package render

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestCheckMetadataFollowsTheKind: each kind's name is checked with the rule the API server has for it.
func TestCheckMetadataFollowsTheKind(t *testing.T) {
	long := strings.Repeat("n", 64)
	obj := func(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
		o := &unstructured.Unstructured{}
		o.SetAPIVersion(apiVersion)
		o.SetKind(kind)
		o.SetNamespace(namespace)
		o.SetName(name)
		return o
	}
	withLabel := func(o *unstructured.Unstructured, value string) *unstructured.Unstructured {
		o.SetLabels(map[string]string{"istio.io/rev": value})
		return o
	}
	withPodLabel := func(o *unstructured.Unstructured, value string) *unstructured.Unstructured {
		_ = unstructured.SetNestedStringMap(o.Object, map[string]string{"istio.io/rev": value}, "spec", "template", "metadata", "labels")
		return o
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		// want is part of the error; empty means accepted.
		want string
	}{
		{"a Service name of 63 characters", obj("v1", "Service", "istio-system", long[:63]), ""},
		{"a Service name of 64 characters", obj("v1", "Service", "istio-system", long), "metadata.name: Invalid value: \"" + long + "\": must be no more than 63 characters"},
		{"a Service name with a dot", obj("v1", "Service", "istio-system", "istiod-prod.east"), "a DNS-1035 label"},
		{"a ConfigMap name of 64 characters", obj("v1", "ConfigMap", "istio-system", long), ""},
		{"a ConfigMap name with a dot", obj("v1", "ConfigMap", "istio-system", "istio-prod.east"), ""},
		{"a ConfigMap name of 254 characters", obj("v1", "ConfigMap", "istio-system", strings.Repeat("n", 254)), "must be no more than 253 characters"},
		{"a Deployment name of 64 characters", obj("apps/v1", "Deployment", "istio-system", long), ""},
		{"a ClusterRole name with a colon", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:istio-reader"), ""},
		{"a ConfigMap name with a colon", obj("v1", "ConfigMap", "istio-system", "system:istio"), "a lowercase RFC 1123 subdomain"},
		{"a Namespace name with a dot", obj("v1", "Namespace", "", "istio.system"), "metadata.name"},
		{"a namespace with a dot", obj("v1", "ConfigMap", "istio.system", "istio"), "metadata.namespace"},
		{"no name", obj("v1", "ConfigMap", "istio-system", ""), "metadata.name: Required value"},
		{"a label value of 63 characters", withLabel(obj("v1", "ConfigMap", "istio-system", "istio"), long[:63]), ""},
		{"a label value of 64 characters", withLabel(obj("v1", "ConfigMap", "istio-system", "istio"), long), "metadata.labels[istio.io/rev]: Invalid value: \"" + long + "\": must be no more than 63 bytes"},
		{"a pod label value of 64 characters", withPodLabel(obj("apps/v1", "Deployment", "istio-system", "istiod"), long), "spec.template.metadata.labels[istio.io/rev]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := checkMetadata(tc.obj)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Errorf("refused: %v", errs.ToAggregate())
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("errors %v, want one containing %q", errs.ToAggregate(), tc.want)
			}
		})
	}
}

// TestRenderRefusesWhatTheAPIServerWould renders istiod for a revision name one character too long
// for the names the chart makes from it: Render must refuse, naming the object and what to shorten,
// rather than hand apply an object the API server refuses after the ones before it were applied.
func TestRenderRefusesWhatTheAPIServerWould(t *testing.T) {
	r := newTestRenderer(t)
	for _, v := range catalog.Embedded().Versions() {
		t.Run(v.Name, func(t *testing.T) {
			revision := strings.Repeat("r", 57)
			req := Request{Version: v.Name, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: revision + "-istiod",
				Values: controlPlaneValuesFor(t, v.Name, revision), Owner: Owner{"IstioRevision", revision}}
			_, err := r.Render(req)
			var invalid *InvalidObjectError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want an InvalidObjectError", err)
			}
			for _, want := range []string{
				invalid.Kind + " istio-system/" + invalid.Name + " (template istiod/templates/",
				"would be refused by the API server",
				"must be no more than 63",
				"it is made from the name of IstioRevision " + revision + " (57 characters): shorten or rename it",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the message does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestRenderRefusesALongTagName: a tag's name goes into its Service and its release labels.
func TestRenderRefusesALongTagName(t *testing.T) {
	r := newTestRenderer(t)
	version := catalog.Embedded().Versions()[0].Name
	tag := strings.Repeat("t", 51)
	vals := controlPlaneValues(t, version)
	vals["revisionTags"] = []any{tag}
	_, err := r.Render(Request{Version: version, Chart: ChartIstiod, Namespace: "istio-system", ReleaseName: tag + "-revisiontags",
		Values: vals, Owner: Owner{"IstioRevisionTag", tag}, Templates: []string{"revision-tags.yaml", "revision-tags-mwc.yaml", "revision-tags-svc.yaml"}})
	var invalid *InvalidObjectError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "the name of IstioRevisionTag "+tag) {
		t.Errorf("error = %v, want an InvalidObjectError that names the tag", err)
	}
}
