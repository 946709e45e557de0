//go:build integration

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
)

// cfg reaches the real kube-apiserver (with etcd) that runTests starts once for the tests here, which
// check render's output against the API server; kubeconfig is the admin's kubeconfig file for it.
var (
	cfg        *rest.Config
	kubeconfig string
)

func init() {
	runTests = func(m *testing.M) int {
		return clustertest.MainWith(m, testcluster.Options{}, func(c *testcluster.Cluster) error {
			cfg, kubeconfig = c.Config(), c.KubeconfigPath()
			// The deprecation warning of v1alpha1 ZTunnel is asserted where it matters, not logged for
			// every call.
			cfg.WarningHandler = rest.NoWarnings{}
			return crd.Install(context.Background(), cfg, time.Minute)
		})
	}
}

// TestRenderDocExamples runs `bosun render` on every sailoperator.io example of the OpenShift Service
// Mesh 3 documents and has the real API server accept every object it prints (server-side apply, dry
// run). The documents name Istio versions that are now end of life: render must refuse those with a
// message naming the supported versions, and render the same manifest for every supported minor.
func TestRenderDocExamples(t *testing.T) {
	for _, ns := range []string{"istio-system", "istio-cni", "ztunnel"} {
		createNamespace(t, ns)
	}
	paths, err := filepath.Glob(filepath.Join(docExamples, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples in %s", docExamples)
	}
	aliases := []string{"v1.25-latest", "v1.27-latest", "v1.31-latest"}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, err := renderText(t, string(text))
			var eol *catalog.EndOfLifeError
			switch {
			case errors.As(err, &eol):
				if !strings.Contains(err.Error(), "set spec.version to a supported version: latest, v1.31-latest, v1.27-latest") {
					t.Errorf("the end-of-life message does not name the supported versions: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				dryRunApply(t, out)
			}
			for _, alias := range aliases {
				t.Run(alias, func(t *testing.T) {
					out, err := renderText(t, withVersion(t, string(text), alias))
					if err != nil {
						t.Fatal(err)
					}
					if n := dryRunApply(t, out); n == 0 {
						t.Fatal("render printed no objects")
					}
				})
			}
		})
	}
}

// TestRenderDeprecatedZTunnel renders a v1alpha1 ZTunnel, which the API server still serves, as v1.
func TestRenderDeprecatedZTunnel(t *testing.T) {
	out, err := renderText(t, "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: v1.27-latest\n  profile: ambient\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "# Note: sailoperator.io/v1alpha1 ZTunnel is deprecated") {
		t.Errorf("no deprecation note in:\n%s", out[:min(len(out), 400)])
	}
	if n := dryRunApply(t, out); n == 0 {
		t.Error("no objects rendered")
	}
}

// dryRunApply sends every object to the API server as a server-side apply in dry-run mode, with
// strict field validation, and returns how many it sent.
func dryRunApply(t *testing.T, text string) int {
	t.Helper()
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	client := dynamic.NewForConfigOrDie(cfg)
	objs := parseAll(t, text)
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s %s: the API server does not serve it: %v", gvk.Kind, obj.GetName(), err)
			continue
		}
		var res dynamic.ResourceInterface = client.Resource(mapping.Resource)
		if mapping.Scope.Name() == "namespace" {
			res = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		_, err = res.Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{
			FieldManager: "bosun", Force: true, DryRun: []string{metav1.DryRunAll},
		})
		if err != nil {
			t.Errorf("%s %s/%s refused: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return len(objs)
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
