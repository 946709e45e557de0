//go:build integration

package platform

import (
	"context"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/testcluster"
	"github.com/bosun-mesh/bosun/internal/testcluster/clustertest"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestDetect asks a real API server: plain Kubernetes first, then the same server once it serves
// OpenShift's ClusterVersion kind.
func TestDetect(t *testing.T) {
	cluster := clustertest.Start(t, testcluster.Options{})
	cfg := cluster.Config()
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)

	if got, err := Detect(dc); err != nil || got != values.Kubernetes {
		t.Fatalf("Detect() = %q, %v; want kubernetes", got, err)
	}

	clusterVersion := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterversions.config.openshift.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "config.openshift.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "clusterversions", Singular: "clusterversion", Kind: "ClusterVersion", ListKind: "ClusterVersionList"},
			Scope: apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr(true),
				}},
			}},
		},
	}
	client := apiextensionsclient.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := client.CustomResourceDefinitions().Create(ctx, clusterVersion, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.CustomResourceDefinitions().Get(ctx, clusterVersion.Name, metav1.GetOptions{})
		return err == nil && crd.Established(got), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Discovery serves a new group shortly after its CRD is Established, so poll with a deadline.
	var got values.Platform
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		got, err = Detect(dc)
		return got == values.OpenShift, err
	})
	if err != nil {
		t.Fatalf("Detect() = %q, %v; want openshift", got, err)
	}
}

func ptr[T any](v T) *T { return &v }
