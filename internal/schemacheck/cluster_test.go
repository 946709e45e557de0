//go:build integration

package schemacheck_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/internal/schemacheck"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// widgets reaches the Widgets of the real kube-apiserver (with etcd) that TestMain starts once, with
// testdata/widgets.yaml installed.
var widgets dynamic.NamespaceableResourceInterface

func TestMain(m *testing.M) {
	os.Exit(clustertest.Main(m, testcluster.Options{}, func(cfg *rest.Config) error {
		ctx := context.Background()
		crd, err := readWidgetCRD()
		if err != nil {
			return err
		}
		client, err := apiextensionsclient.NewForConfig(cfg)
		if err != nil {
			return err
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return err
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		widgets = dyn.Resource(schema.GroupVersionResource{Group: crd.Spec.Group, Version: "v1", Resource: crd.Spec.Names.Plural})
		// Served once a list of Widgets answers.
		return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := widgets.Namespace("default").List(ctx, metav1.ListOptions{})
			return err == nil, nil
		})
	}))
}

// agreementCases are manifests of Widgets, each of which the API server and Check must judge alike.
var agreementCases = map[string]string{
	"no spec":                             widget(""),
	"an empty spec":                       widget("  {}\n"),
	"an object present without a default": widget("  optional: {}\n"),
	"nulls":                               widget("  size: null\n  mode: null\n  ratio: null\n  note: null\n  nested: null\n"),
	"a subtree of unknown fields":         widget("  free:\n    anything:\n      deep: [1, two, 2.5, null]\n"),
	"set values":                          widget("  size: 7\n  mode: Fast\n  ratio: 1\n  nested: {level: debug}\n  items: [a, b]\n"),
	"a fraction":                          widget("  ratio: 0.5\n"),
	"a whole number as a float":           widget("  size: 2.0\n  ratio: 2.0\n"),
	"status and managedFields":            strings.Replace(widget("  size: 2\n"), "  namespace: default\n", "  namespace: default\n  managedFields:\n    - manager: kubectl\n      operation: Apply\n", 1) + "status:\n  phase: 42\n",
	"labels and annotations":              strings.Replace(widget(""), "  name: w\n", "  name: w\n  labels: {app: shop}\n  annotations: {note: x}\n", 1),
	"a CEL rule":                          widget("  min: 5\n  max: 1\n"),
	"a wrong type and a CEL rule":         widget("  min: 5\n  max: 1\n  size: \"2\"\n"),
	"several problems":                    widget("  size: 0\n  mode: Slow\n  items: [a, b, c]\n"),
	"a fraction for an integer":           widget("  size: 2.5\n"),
	"a string for an integer":             widget("  size: \"2\"\n"),
	"an unknown field":                    widget("  colour: red\n"),
	"an unknown field deep down":          widget("  nested:\n    level: info\n    colour: red\n"),
	"a null in a list":                    widget("  items: [a, null]\n"),
	"a name that is not a DNS subdomain":  strings.Replace(widget(""), "name: w", "name: W_1", 1),
	"a label too long":                    strings.Replace(widget(""), "  name: w\n", "  name: w\n  labels: {app: "+strings.Repeat("a", 64)+"}\n", 1),
	"an annotation key with two slashes":  strings.Replace(widget(""), "  name: w\n", "  name: w\n  annotations: {a/b/c: x}\n", 1),
}

// TestCheckAgreesWithTheAPIServer sends each manifest to the API server as kubectl create does (strict
// field validation, dry run) and through Check: both must accept the same manifests and store the same
// object, and refuse the others with the same problems in the same words. Without this, bosun render
// would print objects for a manifest kubectl apply refuses, or refuse one it takes.
func TestCheckAgreesWithTheAPIServer(t *testing.T) {
	for name, manifest := range agreementCases {
		t.Run(name, func(t *testing.T) { agree(t, manifest) })
	}
}

// agree checks manifest with the API server and with Check, and fails t where they differ.
func agree(t *testing.T, manifest string) {
	t.Helper()
	obj := parse(t, manifest)
	stored, serverErr := widgets.Namespace("default").Create(context.Background(), obj.DeepCopy(),
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict})
	checked, err := widgetChecker(t).Check(context.Background(), obj)
	switch {
	case serverErr == nil && err == nil:
		if !reflect.DeepEqual(stored.Object["spec"], checked.Object["spec"]) {
			t.Errorf("the API server stores spec\n%#v\nCheck returns\n%#v", stored.Object["spec"], checked.Object["spec"])
		}
		if !reflect.DeepEqual(stored.GetLabels(), checked.GetLabels()) || !reflect.DeepEqual(stored.GetAnnotations(), checked.GetAnnotations()) {
			t.Errorf("the API server stores labels %v and annotations %v, Check %v and %v", stored.GetLabels(), stored.GetAnnotations(), checked.GetLabels(), checked.GetAnnotations())
		}
		if _, ok := checked.Object["status"]; ok || stored.Object["status"] != nil {
			t.Errorf("status: the API server stores %v, Check returns %v", stored.Object["status"], checked.Object["status"])
		}
	case serverErr != nil && err != nil:
		var invalid *schemacheck.InvalidError
		if !errors.As(err, &invalid) {
			t.Fatalf("Check gave %v, want an InvalidError", err)
		}
		var offline []string
		for _, e := range invalid.Errors {
			offline = append(offline, e.Error())
		}
		server := serverProblems(serverErr)
		if server == nil {
			// A strict decoding error, which the API server gives as a message alone: unknown fields,
			// which Check reports as problems of their own.
			if !apierrors.IsBadRequest(serverErr) {
				t.Fatalf("the API server refused with %v", serverErr)
			}
			for _, e := range invalid.Errors {
				if !strings.Contains(serverErr.Error(), e.Detail) {
					t.Errorf("the API server does not say %q:\n%v", e.Detail, serverErr)
				}
			}
			return
		}
		sort.Strings(offline)
		if !slices.Equal(server, offline) {
			t.Errorf("the API server says\n  %s\nCheck says\n  %s", strings.Join(server, "\n  "), strings.Join(offline, "\n  "))
		}
	default:
		t.Errorf("the API server gives %v, Check %v", serverErr, err)
	}
}

// serverProblems are the causes of an Invalid refusal, written as field.Error writes them, sorted, or
// nil for another refusal. The note the API server adds when it skips CEL rules of an object of the
// wrong types is left out: it is not a problem of the manifest.
func serverProblems(err error) []string {
	status, ok := err.(apierrors.APIStatus)
	if !ok || !apierrors.IsInvalid(err) || status.Status().Details == nil {
		return nil
	}
	problems := []string{}
	for _, cause := range status.Status().Details.Causes {
		if strings.Contains(cause.Message, "some validation rules were not checked") {
			continue
		}
		field := cause.Field
		if field == "" {
			field = "<nil>"
		}
		problems = append(problems, field+": "+cause.Message)
	}
	sort.Strings(problems)
	return problems
}
