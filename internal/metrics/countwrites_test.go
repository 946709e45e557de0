package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func writesOf(t *testing.T, verb, resource string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := APIWrites.WithLabelValues(verb, resource).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// apiServer answers every request as an API server would, with an object of the kind the path names,
// and records the requests it received.
func apiServer(t *testing.T) (*httptest.Server, *[]string) {
	var received []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received = append(received, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete:
			_, _ = io.WriteString(w, `{"apiVersion":"v1","kind":"Status","status":"Success"}`)
		case strings.Contains(r.URL.Path, "/pods"):
			_, _ = io.WriteString(w, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"istio-system"}}`)
		default:
			_, _ = io.WriteString(w, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mesh","namespace":"istio-system"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &received
}

// TestCountWritesCountsWhatAClientWrites: wrapped around a client's transport, CountWrites counts each
// create, update, patch and delete it sends by verb and resource (a status write under its
// subresource), counts no read and no dry run, and lets every request through.
func TestCountWritesCountsWhatAClientWrites(t *testing.T) {
	srv, received := apiServer(t)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, WrapTransport: CountWrites})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ verb, resource string }
	watched := []key{{"POST", "configmaps"}, {"PUT", "configmaps"}, {"PATCH", "configmaps"}, {"DELETE", "configmaps"}, {"PUT", "pods/status"}, {"GET", "configmaps"}}
	before := map[key]float64{}
	for _, k := range watched {
		before[k] = writesOf(t, k.verb, k.resource)
	}

	ctx := t.Context()
	cms := cs.CoreV1().ConfigMaps("istio-system")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mesh"}}
	steps := []func() error{
		func() error { _, err := cms.Get(ctx, "mesh", metav1.GetOptions{}); return err },
		func() error { _, err := cms.List(ctx, metav1.ListOptions{}); return err },
		func() error {
			_, err := cms.Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		},
		func() error { _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); return err },
		func() error { _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); return err },
		func() error { _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); return err },
		func() error {
			_, err := cms.Patch(ctx, "mesh", types.MergePatchType, []byte(`{"data":{"a":"b"}}`), metav1.PatchOptions{})
			return err
		},
		func() error { return cms.Delete(ctx, "mesh", metav1.DeleteOptions{}) },
		func() error {
			_, err := cs.CoreV1().Pods("istio-system").UpdateStatus(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.UpdateOptions{})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if len(*received) != len(steps) {
		t.Errorf("the API server received %d requests, want all %d: %q", len(*received), len(steps), *received)
	}
	want := map[key]float64{{"POST", "configmaps"}: 2, {"PUT", "configmaps"}: 1, {"PATCH", "configmaps"}: 1, {"DELETE", "configmaps"}: 1, {"PUT", "pods/status"}: 1}
	for _, k := range watched {
		if got := writesOf(t, k.verb, k.resource) - before[k]; got != want[k] {
			t.Errorf("bosun_api_writes_total{verb=%s,resource=%s} grew by %v, want %v", k.verb, k.resource, got, want[k])
		}
	}
}

// failing is a transport that fails every request.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// TestCountWritesReturnsTheTransportsError: a request that fails in the transport is still a request
// sent, and its error reaches the client unchanged.
func TestCountWritesReturnsTheTransportsError(t *testing.T) {
	refused := errors.New("connection refused")
	req, err := http.NewRequest(http.MethodPatch, "https://api.example:6443/apis/apps/v1/namespaces/istio-system/deployments/istiod", nil)
	if err != nil {
		t.Fatal(err)
	}
	before := writesOf(t, "PATCH", "deployments")
	if _, err := CountWrites(failing{refused}).RoundTrip(req); !errors.Is(err, refused) {
		t.Errorf("RoundTrip returned %v, want the transport's error", err)
	}
	if got := writesOf(t, "PATCH", "deployments") - before; got != 1 {
		t.Errorf("bosun_api_writes_total{verb=PATCH,resource=deployments} grew by %v, want 1", got)
	}
}
