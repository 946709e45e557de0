// Package crd reads bosun's generated CustomResourceDefinitions (chart/crds, written by `make generate`)
// and installs them into a cluster.
package crd

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sort"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/chart/crds"
	"github.com/bosun-mesh/bosun/internal/apply"
)

// files are the generated CRDs.
var files = crds.FS

// CRDs returns bosun's CustomResourceDefinitions, sorted by name.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), len(data)).Decode(crd); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", name, err)
		}
		crds = append(crds, crd)
	}
	sort.Slice(crds, func(i, j int) bool { return crds[i].Name < crds[j].Name })
	return crds, nil
}

// Install applies bosun's CRDs with server-side apply and waits until the API server serves every one of
// them (condition Established, and a list of each served version answers) or the timeout passes.
func Install(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	crds, err := CRDs()
	if err != nil {
		return err
	}
	return InstallThese(ctx, cfg, crds, timeout)
}

// InstallThese applies the CRDs as Install applies bosun's, and waits as it does: for test stand-ins
// of other projects' CRDs too.
func InstallThese(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		crd.APIVersion = apiextensionsv1.SchemeGroupVersion.String()
		crd.Kind = "CustomResourceDefinition"
		body, err := sigsyaml.Marshal(crd)
		if err != nil {
			return err
		}
		force := true
		_, err = client.CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyYAMLPatchType, body,
			metav1.PatchOptions{FieldManager: apply.FieldManager, Force: &force})
		if err != nil {
			return fmt.Errorf("applying CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			got, err := client.CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return Established(got), nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s did not become Established: %w", crd.Name, err)
		}
		// Established says the API server accepts the CRD; each version's handler can still answer
		// "not found" for a moment after it.
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural}
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
				_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
				return err == nil, nil
			})
			if err != nil {
				return fmt.Errorf("CRD %s: version %s is not served: %w", crd.Name, v.Name, err)
			}
		}
	}
	return nil
}

// Established reports whether the API server serves the CRD.
func Established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
