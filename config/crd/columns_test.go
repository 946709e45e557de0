//go:build integration

package crd_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// tableAccept asks the API server for the server-side table kubectl prints.
const tableAccept = "application/json;as=Table;g=meta.k8s.io;v=v1"

// TestPrinterColumns checks `kubectl get` output for each kind against the OpenShift Service Mesh 3
// documents (03-updating-ossm-3): the headers kubectl prints by default, the cells of a row whose status
// matches the documents' example output, and the extra columns `-o wide` adds.
func TestPrinterColumns(t *testing.T) {
	ctx := context.Background()
	now := metav1.NewTime(time.Now()).Rfc3339Copy().Format(time.RFC3339)
	cond := func(typ, status, reason string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": "", "lastTransitionTime": now}
	}
	cases := []struct {
		name     string
		manifest string
		status   map[string]any
		resource string
		headers  string   // as the documents print them
		cells    []string // the documents' example row, without AGE
		wide     []string // extra headers of -o wide
	}{
		{
			name:     "Istio (§2.3.2 example output)",
			manifest: "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n  namespace: istio-system\n  version: v1.24.3\n  updateStrategy:\n    type: RevisionBased",
			status: map[string]any{
				"state":              "Healthy",
				"activeRevisionName": "default-v1-24-3",
				"revisions":          map[string]any{"total": 1, "ready": 1, "inUse": 1},
				"conditions":         []any{cond("Reconciled", "True", "Reconciled"), cond("Ready", "True", "Ready")},
			},
			resource: "istios",
			headers:  "NAME REVISIONS READY IN USE ACTIVE REVISION STATUS VERSION AGE",
			cells:    []string{"default", "1", "1", "1", "default-v1-24-3", "Healthy", "v1.24.3"},
			wide:     []string{"NAMESPACE", "PROFILE"},
		},
		{
			name:     "IstioRevision (§2.3.2 example output)",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevision\nmetadata:\n  name: default-v1-24-3\nspec:\n  version: v1.24.3\n  namespace: istio-system\n  values:\n    revision: default-v1-24-3\n    global:\n      istioNamespace: istio-system",
			status: map[string]any{
				"state": "Healthy",
				"type":  "Local",
				"conditions": []any{
					cond("Reconciled", "True", "Reconciled"), cond("Ready", "True", "Ready"),
					cond("InUse", "False", "NotReferencedByAnything"),
				},
			},
			resource: "istiorevisions",
			headers:  "NAME TYPE READY STATUS IN USE VERSION AGE",
			cells:    []string{"default-v1-24-3", "Local", "True", "Healthy", "False", "v1.24.3"},
			wide:     []string{"NAMESPACE", "PROFILE"},
		},
		{
			name:     "IstioRevisionTag (§2.4.2 example output)",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default",
			status: map[string]any{
				"state":           "Healthy",
				"istiodNamespace": "istio-system",
				"istioRevision":   "default-v1-24-3",
				"conditions":      []any{cond("Reconciled", "True", "Reconciled"), cond("InUse", "True", "ReferencedByWorkloads")},
			},
			resource: "istiorevisiontags",
			headers:  "NAME STATUS IN USE REVISION AGE",
			cells:    []string{"default", "Healthy", "True", "default-v1-24-3"},
		},
		{
			name:     "IstioCNI (§4.1.1 example output)",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioCNI\nmetadata:\n  name: default\nspec:\n  version: v1.28.5\n  namespace: istio-cni",
			status: map[string]any{
				"state":      "Healthy",
				"conditions": []any{cond("Reconciled", "True", "Reconciled"), cond("Ready", "True", "Ready")},
			},
			resource: "istiocnis",
			headers:  "NAME READY STATUS VERSION AGE",
			cells:    []string{"default", "True", "Healthy", "v1.28.5"},
			wide:     []string{"NAMESPACE", "PROFILE"},
		},
		{
			name:     "ZTunnel",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: v1.28.5\n  namespace: ztunnel",
			status: map[string]any{
				"state":      "Healthy",
				"conditions": []any{cond("Reconciled", "True", "Reconciled"), cond("Ready", "True", "Ready")},
			},
			resource: "ztunnels",
			headers:  "NAME READY STATUS VERSION AGE",
			cells:    []string{"default", "True", "Healthy", "v1.28.5"},
			wide:     []string{"NAMESPACE", "REVISION"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustCreate(ctx, t, parseManifest(t, tc.manifest))
			obj.Object["status"] = tc.status
			if _, err := resourceOf(t, obj).UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("writing status: %v", err)
			}

			table := getTable(ctx, t, tc.resource, obj)
			var headers, wide []string
			var defaultCells []string
			if len(table.Rows) != 1 {
				t.Fatalf("table has %d rows, want 1", len(table.Rows))
			}
			for i, col := range table.ColumnDefinitions {
				name := strings.ToUpper(col.Name) // kubectl prints headers in upper case
				if col.Priority > 0 {
					wide = append(wide, name)
					continue
				}
				headers = append(headers, name)
				if name != "AGE" {
					defaultCells = append(defaultCells, cellString(table.Rows[0].Cells[i]))
				} else if cellString(table.Rows[0].Cells[i]) == "" {
					t.Errorf("AGE cell is empty")
				}
			}
			if got := strings.Join(headers, " "); got != tc.headers {
				t.Errorf("headers:\n got %s\nwant %s", got, tc.headers)
			}
			if !slices.Equal(defaultCells, tc.cells) {
				t.Errorf("cells:\n got %q\nwant %q", defaultCells, tc.cells)
			}
			if !slices.Equal(wide, tc.wide) {
				t.Errorf("-o wide adds %v, want %v", wide, tc.wide)
			}
		})
	}
}

func getTable(ctx context.Context, t *testing.T, resource string, obj *unstructured.Unstructured) *metav1.Table {
	t.Helper()
	raw, err := kubernetes.NewForConfigOrDie(cfg).RESTClient().Get().
		AbsPath("/apis", obj.GetAPIVersion(), resource, obj.GetName()).
		SetHeader("Accept", tableAccept).
		DoRaw(ctx)
	if err != nil {
		t.Fatalf("getting the table: %v", err)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		t.Fatal(err)
	}
	return table
}

// cellString renders a table cell the way kubectl does for the values that occur here.
func cellString(v any) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
