package render

import (
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-mesh/bosun/internal/metrics"
	"github.com/bosun-mesh/bosun/internal/values"
)

// tinyChart is a chart of two templates whose objects show the values and release they were rendered
// with, so that a test sees which inputs reached the objects.
func tinyChart(version string) fstest.MapFS {
	dir := version + "/charts/tiny/"
	return fstest.MapFS{
		dir + "Chart.yaml":  {Data: []byte("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")},
		dir + "values.yaml": {Data: []byte("color: blue\nreplicas: 1\n")},
		dir + "templates/config.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  namespace: {{ .Release.Namespace }}
data:
  color: {{ .Values.color | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
`)},
		dir + "templates/deployment.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
`)},
	}
}

func tinyRequest(version string, vals values.Map) Request {
	return Request{Version: version, Chart: "tiny", Namespace: "mesh", ReleaseName: "tiny", Values: vals, Owner: Owner{Kind: "IstioRevision", Name: "r"}}
}

// counter reads one series of a counter vector.
func counter(t *testing.T, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.WithLabelValues(labels...).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestCacheRendersOncePerInputs: while a resource's chart inputs stay the same, its reconciles reuse
// the objects rendered before (a cache hit, counted), so pod churn or a status change renders nothing;
// any change of the inputs renders again.
func TestCacheRendersOncePerInputs(t *testing.T) {
	res := tinyChart("v1")
	r, err := New(res, Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(r, Cluster{KubeVersion: "v1.36.3"}, "test", "TestKind")
	owner := types.UID("uid-1")
	renders, hits := counter(t, metrics.Renders, "TestKind"), counter(t, metrics.RenderCacheHits, "TestKind")
	first, err := c.Render(owner, []Request{tinyRequest("v1", values.Map{"color": "red"})})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Render(owner, []Request{tinyRequest("v1", values.Map{"color": "red"})})
	if err != nil {
		t.Fatal(err)
	}
	if first[0] != again[0] {
		t.Error("the same inputs rendered new objects")
	}
	if got := counter(t, metrics.Renders, "TestKind") - renders; got != 1 {
		t.Errorf("rendered %v times for the same inputs, want 1", got)
	}
	if got := counter(t, metrics.RenderCacheHits, "TestKind") - hits; got != 1 {
		t.Errorf("%v cache hits, want 1", got)
	}
	changed, err := c.Render(owner, []Request{tinyRequest("v1", values.Map{"color": "green"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := counter(t, metrics.Renders, "TestKind") - renders; got != 2 {
		t.Errorf("rendered %v times after a values change, want 2", got)
	}
	for _, obj := range changed {
		if obj.GetKind() == "ConfigMap" && obj.Object["data"].(map[string]any)["color"] != "green" {
			t.Errorf("the new values did not reach the objects: %v", obj.Object["data"])
		}
	}
}

// TestDigestCoversEveryInput: the digest changes with each input a rendered object depends on: the
// version, the chart, the values, the namespace, the release name, the templates, the cluster the
// charts see and bosun's own version; and it is the same for the same inputs.
func TestDigestCoversEveryInput(t *testing.T) {
	base := tinyRequest("v1", values.Map{"color": "red"})
	cluster := Cluster{KubeVersion: "v1.36.3"}
	digest := func(c Cluster, bosun string, req Request) string {
		t.Helper()
		d, err := (&Cache{cluster: c, bosun: bosun}).Digest([]Request{req})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	want := digest(cluster, "1.0", base)
	if again := digest(cluster, "1.0", tinyRequest("v1", values.Map{"color": "red"})); again != want {
		t.Error("the same inputs gave another digest")
	}
	edit := func(f func(*Request)) Request {
		r := tinyRequest("v1", values.Map{"color": "red"})
		f(&r)
		return r
	}
	for name, d := range map[string]string{
		"version":   digest(cluster, "1.0", edit(func(r *Request) { r.Version = "v2" })),
		"chart":     digest(cluster, "1.0", edit(func(r *Request) { r.Chart = "other" })),
		"values":    digest(cluster, "1.0", edit(func(r *Request) { r.Values = values.Map{"color": "blue"} })),
		"namespace": digest(cluster, "1.0", edit(func(r *Request) { r.Namespace = "elsewhere" })),
		"release":   digest(cluster, "1.0", edit(func(r *Request) { r.ReleaseName = "other" })),
		"templates": digest(cluster, "1.0", edit(func(r *Request) { r.Templates = []string{"config.yaml"} })),
		"owner":     digest(cluster, "1.0", edit(func(r *Request) { r.Owner.Name = "s" })),
		"cluster":   digest(Cluster{KubeVersion: "v1.37.0"}, "1.0", base),
		"bosun":     digest(cluster, "1.1", base),
	} {
		if d == want {
			t.Errorf("a change of the %s left the digest as it was: the cache would hand out objects of the old inputs", name)
		}
	}
}

// TestCacheForgetsAGoneOwner: once a resource is gone its objects leave the cache, and the same UID
// (a test restarting, say) renders afresh.
func TestCacheForgetsAGoneOwner(t *testing.T) {
	r, err := New(tinyChart("v1"), Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(r, Cluster{KubeVersion: "v1.36.3"}, "test", "ForgetKind")
	req := []Request{tinyRequest("v1", values.Map{})}
	if _, err := c.Render("uid", req); err != nil {
		t.Fatal(err)
	}
	c.Forget("uid")
	if len(c.entries) != 0 {
		t.Fatalf("%d entries left after Forget", len(c.entries))
	}
	renders := counter(t, metrics.Renders, "ForgetKind")
	if _, err := c.Render("uid", req); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, metrics.Renders, "ForgetKind") - renders; got != 1 {
		t.Errorf("rendered %v times after Forget, want 1", got)
	}
}

// TestCacheKeepsOwnersApart: two resources with the same inputs each keep their own entry, and one's
// change does not touch the other's objects.
func TestCacheKeepsOwnersApart(t *testing.T) {
	r, err := New(tinyChart("v1"), Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(r, Cluster{KubeVersion: "v1.36.3"}, "test", "ApartKind")
	a, err := c.Render("a", []Request{tinyRequest("v1", values.Map{"color": "red"})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Render("b", []Request{tinyRequest("v1", values.Map{"color": "green"})}); err != nil {
		t.Fatal(err)
	}
	again, err := c.Render("a", []Request{tinyRequest("v1", values.Map{"color": "red"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(again) || a[0] != again[0] {
		t.Error("another owner's render replaced the entry of the first")
	}
}

// TestCacheDoesNotKeepAFailedRender: a render that fails is not cached, so the next reconcile of the
// same inputs tries again (and fails again) instead of handing out nothing.
func TestCacheDoesNotKeepAFailedRender(t *testing.T) {
	r, err := New(tinyChart("v1"), Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(r, Cluster{KubeVersion: "v1.36.3"}, "test", "FailKind")
	req := []Request{tinyRequest("v9", values.Map{})}
	if _, err := c.Render("uid", req); err == nil {
		t.Fatal("a chart of a version that was never fetched rendered")
	}
	if _, ok := c.entries["uid"]; ok {
		t.Error("a failed render was cached")
	}
}

// TestCacheRendersRequestsInApplyOrder: the objects of several charts come back as one list in apply
// order, whatever the order of the requests.
func TestCacheRendersRequestsInApplyOrder(t *testing.T) {
	res := tinyChart("v1")
	for k, v := range tinyChart("v2") {
		res[k] = v
	}
	r, err := New(res, Cluster{KubeVersion: "v1.36.3"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(r, Cluster{KubeVersion: "v1.36.3"}, "test", "OrderKind")
	second := tinyRequest("v2", values.Map{})
	second.ReleaseName = "second"
	objs, err := c.Render("uid", []Request{second, tinyRequest("v1", values.Map{})})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	want := []string{"ConfigMap/second-config", "ConfigMap/tiny-config", "Deployment/second", "Deployment/tiny"}
	if len(got) != len(want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("objects %v, want %v", got, want)
		}
	}
}
