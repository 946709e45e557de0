// Package platform tells whether bosun runs on OpenShift, which changes the default profile and the
// charts' platform presets.
package platform

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"

	"github.com/bosun-mesh/bosun/internal/values"
)

// openShiftAPIs are kinds only OpenShift serves; any one of them is enough.
var openShiftAPIs = []struct{ groupVersion, kind string }{
	{"config.openshift.io/v1", "ClusterVersion"},
	{"operator.openshift.io/v1", "OpenShiftAPIServer"},
}

// Detect asks the API server which platform it is: OpenShift when it serves an OpenShift-only kind,
// Kubernetes otherwise. An error other than "not served" is returned, never guessed around.
func Detect(dc discovery.DiscoveryInterface) (values.Platform, error) {
	for _, api := range openShiftAPIs {
		list, err := dc.ServerResourcesForGroupVersion(api.groupVersion)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("detecting the platform from %s: %w", api.groupVersion, err)
		}
		for _, r := range list.APIResources {
			if r.Kind == api.kind {
				return values.OpenShift, nil
			}
		}
	}
	return values.Kubernetes, nil
}

// Parse reads a --platform flag value: "auto" (or empty) means detect.
func Parse(s string) (p values.Platform, auto bool, err error) {
	switch s {
	case "", "auto":
		return "", true, nil
	case string(values.Kubernetes), string(values.OpenShift):
		return values.Platform(s), false, nil
	default:
		return "", false, fmt.Errorf("unknown platform %q: use auto, kubernetes or openshift", s)
	}
}
