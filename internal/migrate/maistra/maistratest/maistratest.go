// Package maistratest installs stand-ins for OpenShift Service Mesh 2.6's CRDs into a test cluster:
// the kinds and versions bosun migrate reads (and the federation kind its checklist counts), with
// schemas that keep every field, so that a test stores the objects a 2.6 cluster would serve.
package maistratest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"io"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/bosun-mesh/bosun/config/crd"
)

//go:embed crds.yaml
var crdsYAML []byte

// InstallCRDs installs the stand-ins as bosun's own CRDs are installed (crd.InstallThese) and waits
// until each version answers a list.
func InstallCRDs(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	var crds []*apiextensionsv1.CustomResourceDefinition
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(crdsYAML), 4096)
	for {
		c := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(c); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if c.Name != "" {
			crds = append(crds, c)
		}
	}
	return crd.InstallThese(ctx, cfg, crds, timeout)
}
