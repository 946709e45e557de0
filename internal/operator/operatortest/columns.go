package operatortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/controller/status"
)

// summarised are the conditions each resource's STATUS column (status.state) summarises, in order.
var summarised = map[string][]string{
	"istios":            {v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy},
	"istiorevisions":    {v1.ConditionReconciled, v1.ConditionReady, v1.ConditionDependenciesHealthy},
	"istiorevisiontags": {v1.ConditionReconciled, v1.ConditionReady, v1.ConditionInUse},
	"istiocnis":         {v1.ConditionReconciled, v1.ConditionReady},
	"ztunnels":          {v1.ConditionReconciled, v1.ConditionReady},
}

// Rows is a watch of the rows `kubectl get` prints for one resource.
type Rows struct {
	resource string
	mu       sync.Mutex
	seen     map[string]int
	problems []string
}

// Columns watches the rows `kubectl get <resource>` prints (the API server's Table, with each row's
// object) until the test ends, and then fails the test for every row it saw that contradicted itself:
// a STATUS that is not the summary of the conditions it stands for, a READY or IN USE column that is
// not the status of its condition, or a condition that describes another generation than the rest of
// the status. Those can only appear when parts of a status are written apart. It fails the test too
// if the watch saw no row at all. resource is the plural: istios, istiorevisions, istiorevisiontags,
// istiocnis, ztunnels.
func Columns(t *testing.T, resource string) *Rows {
	t.Helper()
	if summarised[resource] == nil {
		t.Fatalf("Columns knows no resource %q", resource)
	}
	cs, err := kubernetes.NewForConfig(Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := cs.RESTClient().Get().AbsPath("/apis/sailoperator.io/v1/"+resource).
		Param("watch", "true").Param("includeObject", "Object").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Stream(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &Rows{resource: resource, seen: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.read(stream)
	}()
	t.Cleanup(func() {
		cancel()
		stream.Close()
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.problems {
			t.Errorf("kubectl get %s printed a row that contradicts itself: %s", resource, p)
		}
		if len(r.seen) == 0 {
			t.Errorf("the watch of kubectl get %s saw no row", resource)
		}
	})
	return r
}

// Seen returns how many versions of the named object's row the watch has checked so far.
func (r *Rows) Seen(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[name]
}

// read decodes the watch's events and checks each row, until the stream ends.
func (r *Rows) read(stream io.Reader) {
	dec := json.NewDecoder(stream)
	var columns []metav1.TableColumnDefinition
	for {
		var event metav1.WatchEvent
		if err := dec.Decode(&event); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "closed") {
				r.problem("reading the watch: %v", err)
			}
			return
		}
		var table metav1.Table
		if err := json.Unmarshal(event.Object.Raw, &table); err != nil {
			r.problem("decoding a %s event: %v", event.Type, err)
			return
		}
		if len(table.ColumnDefinitions) > 0 {
			columns = table.ColumnDefinitions
		}
		for _, row := range table.Rows {
			r.check(columns, row)
		}
	}
}

// check checks one row against its object.
func (r *Rows) check(columns []metav1.TableColumnDefinition, row metav1.TableRow) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(row.Object.Raw); err != nil {
		r.problem("decoding a row's object: %v", err)
		return
	}
	cells := map[string]string{}
	for i, c := range columns {
		if i < len(row.Cells) && row.Cells[i] != nil {
			cells[c.Name] = fmt.Sprint(row.Cells[i])
		}
	}
	name := obj.GetName()
	r.mu.Lock()
	r.seen[name]++
	r.mu.Unlock()
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var conditions []metav1.Condition
	data, _ := json.Marshal(raw)
	if err := json.Unmarshal(data, &conditions); err != nil {
		r.problem("%s: decoding its conditions: %v", name, err)
		return
	}
	statusOf := func(t string) string {
		for _, c := range conditions {
			if c.Type == t {
				return string(c.Status)
			}
		}
		return ""
	}
	row1 := fmt.Sprintf("%s %v", name, cells)
	if want := status.State(conditions, summarised[r.resource]...); cells["Status"] != want {
		r.problem("%s: STATUS %q, but its conditions say %q (%s)", row1, cells["Status"], want, describe(conditions))
	}
	if r.resource != "istios" {
		if got, ok := cells["Ready"]; ok && got != statusOf(v1.ConditionReady) {
			r.problem("%s: READY %q, but its Ready condition is %q", row1, got, statusOf(v1.ConditionReady))
		}
		if got, ok := cells["In use"]; ok && got != statusOf(v1.ConditionInUse) {
			r.problem("%s: IN USE %q, but its InUse condition is %q", row1, got, statusOf(v1.ConditionInUse))
		}
	}
	if r.resource == "istios" {
		r.checkCounts(row1, obj, statusOf)
	}
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	for _, c := range conditions {
		if c.ObservedGeneration != observed {
			r.problem("%s: condition %s describes generation %d, the status %d", row1, c.Type, c.ObservedGeneration, observed)
		}
	}
}

// checkCounts checks an Istio's REVISIONS, READY and IN USE counts against each other and against its
// Ready condition: a reconciled Istio that is Ready has a ready revision, its active one; one with a
// single revision that is not Ready counts no revision ready.
func (r *Rows) checkCounts(row string, obj *unstructured.Unstructured, statusOf func(string) string) {
	total, _, _ := unstructured.NestedInt64(obj.Object, "status", "revisions", "total")
	ready, _, _ := unstructured.NestedInt64(obj.Object, "status", "revisions", "ready")
	inUse, _, _ := unstructured.NestedInt64(obj.Object, "status", "revisions", "inUse")
	if ready > total || inUse > total {
		r.problem("%s: READY %d and IN USE %d of %d revisions", row, ready, inUse, total)
	}
	if statusOf(v1.ConditionReconciled) != string(metav1.ConditionTrue) {
		return
	}
	isReady := statusOf(v1.ConditionReady) == string(metav1.ConditionTrue)
	if isReady && ready == 0 {
		r.problem("%s: Ready, but READY counts no ready revision", row)
	}
	if total == 1 && !isReady && ready != 0 {
		r.problem("%s: not Ready, but READY counts its one revision ready", row)
	}
}

func (r *Rows) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// describe lists conditions as Type=Status/Reason.
func describe(conditions []metav1.Condition) string {
	var parts []string
	for _, c := range conditions {
		parts = append(parts, c.Type+"="+string(c.Status)+"/"+c.Reason)
	}
	return strings.Join(parts, " ")
}
